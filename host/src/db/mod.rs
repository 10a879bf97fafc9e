//! Storage: one pool over SQLite (embedded default) or PostgreSQL. Every
//! query is written once in the SQL both engines accept (`$1` parameters,
//! BIGINT integers, TEXT JSON); only the migrations and the way a write
//! transaction starts differ per backend.

pub mod activity;
pub mod attempts;
pub mod bulk;
pub mod churn;
pub mod complaints;
pub mod customers;
pub mod dialect;
pub mod erasures;
pub mod events;
pub mod failures;
pub mod health;
pub mod history;
pub mod installs;
pub mod leases;
pub mod ledger;
pub mod messages;
pub mod models;
pub mod outcomes;
pub mod overview;
pub mod pii_reads;
pub mod plugin_logs;
pub mod plugins;
pub mod reaction_timers;
pub mod rollouts;
pub mod row;
pub mod segments;
pub mod sessions;
pub mod state;
pub mod stores;
pub mod surveys;
pub mod turns;

use std::path::Path;
use std::str::FromStr;

use sqlx::any::{AnyConnectOptions, AnyPoolOptions};
use sqlx::{Any, AnyConnection, AnyPool, Transaction};
use thiserror::Error;
use turns::Priority;

/// A connection that writes in its turn: on SQLite it holds this
/// process's turn to write (`turns`) until it is dropped.
pub struct InTurn<C> {
    conn: C,
    _turn: Option<turns::Turn>,
}

/// A write transaction (`Db::begin_write`).
pub type Tx = InTurn<Transaction<'static, Any>>;

/// A connection for writes outside a transaction (single statements,
/// `Db::write_conn`): in turn like a transaction, since a writer outside
/// the turns would make the next transaction's `BEGIN IMMEDIATE` wait in
/// SQLite's busy handler, which sleeps up to 100 ms at a time.
pub type WriteConn = InTurn<sqlx::pool::PoolConnection<Any>>;

impl Tx {
    pub async fn commit(self) -> Result<(), sqlx::Error> {
        self.conn.commit().await
    }

    pub async fn rollback(self) -> Result<(), sqlx::Error> {
        self.conn.rollback().await
    }
}

impl<C: std::ops::DerefMut<Target = AnyConnection>> std::ops::Deref for InTurn<C> {
    type Target = AnyConnection;
    fn deref(&self) -> &AnyConnection {
        &self.conn
    }
}

impl<C: std::ops::DerefMut<Target = AnyConnection>> std::ops::DerefMut for InTurn<C> {
    fn deref_mut(&mut self) -> &mut AnyConnection {
        &mut self.conn
    }
}

pub type Conn = AnyConnection;

#[derive(Debug, Error)]
pub enum DbError {
    #[error("database error: {0}")]
    Sqlx(#[from] sqlx::Error),
    #[error("migration failed: {0}")]
    Migrate(#[from] sqlx::migrate::MigrateError),
    #[error("unsupported database url `{0}`: use sqlite://PATH or postgres://...")]
    UnsupportedUrl(String),
    #[error("column `{column}` holds `{value}`, which this version does not know")]
    UnknownValue { column: &'static str, value: String },
    #[error("the database is busy: {0}")]
    Busy(&'static str),
}

impl DbError {
    /// A unique or primary key was violated (a duplicate).
    pub fn is_unique_violation(&self) -> bool {
        match self {
            DbError::Sqlx(sqlx::Error::Database(e)) => e.is_unique_violation(),
            _ => false,
        }
    }
}

pub type DbResult<T> = Result<T, DbError>;

/// The log past which a checkpoint makes the SQLite write-ahead log start
/// over (in place: the file is reused from its start).
pub const WAL_RESTART_BYTES: i64 = 8 * 1024 * 1024;

#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Backend {
    Sqlite,
    Postgres,
}

impl Backend {
    pub fn name(self) -> &'static str {
        match self {
            Backend::Sqlite => "sqlite",
            Backend::Postgres => "postgres",
        }
    }
}

#[derive(Clone)]
pub struct Db {
    pub pool: AnyPool,
    pub backend: Backend,
    /// Whether the database answers, as this node last saw it.
    pub health: std::sync::Arc<health::Health>,
    /// SQLite writes one transaction at a time: the writers of this
    /// process take turns (`turns`).
    turns: turns::Turns,
}

static SQLITE_MIGRATIONS: sqlx::migrate::Migrator = sqlx::migrate!("../migrations/sqlite");
static POSTGRES_MIGRATIONS: sqlx::migrate::Migrator = sqlx::migrate!("../migrations/postgres");

impl Db {
    /// The embedded default: `clientele.db` in the data directory.
    pub fn sqlite_url(data_dir: &Path) -> String {
        format!("sqlite://{}?mode=rwc", data_dir.join("clientele.db").display())
    }

    /// Opens a pool of at most `max_connections`.
    pub async fn connect(url: &str, max_connections: u32) -> DbResult<Db> {
        sqlx::any::install_default_drivers();
        let backend = if url.starts_with("sqlite:") {
            Backend::Sqlite
        } else if url.starts_with("postgres:") || url.starts_with("postgresql:") {
            Backend::Postgres
        } else {
            return Err(DbError::UnsupportedUrl(url.to_string()));
        };
        let options = AnyConnectOptions::from_str(url)?;
        let pool = AnyPoolOptions::new()
            .max_connections(max_connections)
            .min_connections(1)
            // While the database is away a request waits this long for a
            // connection, then answers 503 (sqlx's default is 30 s).
            .acquire_timeout(health::ACQUIRE_WITHIN)
            .after_connect(move |conn, _| {
                Box::pin(async move {
                    if backend == Backend::Sqlite {
                        // WAL: readers never block the writer. NORMAL is
                        // durable across application crashes; a power loss
                        // can lose the last commits but never corrupts.
                        // 64 MiB of page cache per connection, and no
                        // checkpoints on the commit path: `checkpoint`
                        // runs them in the background instead.
                        for pragma in [
                            "PRAGMA journal_mode = WAL",
                            "PRAGMA synchronous = NORMAL",
                            "PRAGMA busy_timeout = 10000",
                            "PRAGMA foreign_keys = ON",
                            "PRAGMA cache_size = -65536",
                            "PRAGMA temp_store = MEMORY",
                            "PRAGMA wal_autocheckpoint = 0",
                            // When the log starts over, the next write
                            // cuts a file grown past 64 MiB (while a
                            // reader held the log back) to that size
                            // instead of keeping its high-water mark.
                            "PRAGMA journal_size_limit = 67108864",
                            // What is deleted or overwritten is zeroed on
                            // its page, so an erased customer's data is not
                            // left in freed space (see `Db::forget_freed`).
                            "PRAGMA secure_delete = ON",
                        ] {
                            sqlx::query(pragma).execute(&mut *conn).await?;
                        }
                    }
                    Ok(())
                })
            })
            .connect_with(options)
            .await?;
        Ok(Db { pool, backend, health: Default::default(), turns: Default::default() })
    }

    pub async fn migrate(&self) -> DbResult<()> {
        match self.backend {
            Backend::Sqlite => SQLITE_MIGRATIONS.run(&self.pool).await?,
            Backend::Postgres => POSTGRES_MIGRATIONS.run(&self.pool).await?,
        }
        Ok(())
    }

    /// Copies the write-ahead log back into the database file (SQLite; a
    /// no-op elsewhere). A passive checkpoint blocks no one but never
    /// makes the log start over while someone reads or writes, so under
    /// steady load the file would grow without end. Past
    /// [`WAL_RESTART_BYTES`] a second passive one copies what was written
    /// during the first, and then the log is restarted in place in the
    /// write turn: writers wait for the copy of the last few frames and
    /// a sync (20-35 ms measured), where cutting a 64 MiB log had held
    /// them for 53-150 ms, or up to 200 ms on a slower disk.
    pub async fn checkpoint(&self) -> DbResult<()> {
        if self.backend != Backend::Sqlite {
            return Ok(());
        }
        if self.passive_checkpoint().await? > WAL_RESTART_BYTES {
            self.passive_checkpoint().await?;
            let mut conn = self.write_conn().await?;
            sqlx::query("PRAGMA wal_checkpoint(RESTART)").execute(&mut *conn).await?;
        }
        Ok(())
    }

    /// A checkpoint that waits for no one; returns the log's size in bytes.
    async fn passive_checkpoint(&self) -> DbResult<i64> {
        let row = sqlx::query("PRAGMA wal_checkpoint(PASSIVE)").fetch_one(&self.pool).await?;
        let frames: i64 = sqlx::Row::try_get(&row, 1)?;
        let page: i64 = sqlx::query_scalar("PRAGMA page_size").fetch_one(&self.pool).await?;
        Ok(frames * page)
    }

    /// Brings PostgreSQL's planner statistics up to date for the tables
    /// that changed by more than half since they were last analyzed (and
    /// by over a thousand rows); returns their names. Autovacuum looks at
    /// a database once a minute and waits for a tenth of a table to
    /// change: until then a young, fast-growing table is planned as if it
    /// were nearly empty, and the dispatcher's joins and `IN` lists become
    /// scans of everything (the benchmark ran 1.5-1.8x slower). This
    /// costs one catalog read per call, and analyzes a growing table
    /// O(log n) times. A no-op on SQLite.
    pub async fn refresh_statistics(&self) -> DbResult<Vec<String>> {
        if self.backend != Backend::Postgres {
            return Ok(Vec::new());
        }
        let stale: Vec<String> = sqlx::query_scalar(
            "SELECT relname::TEXT FROM pg_stat_user_tables
             WHERE n_mod_since_analyze > 1000 AND n_mod_since_analyze * 2 > n_live_tup",
        )
        .fetch_all(&self.pool)
        .await?;
        for table in &stale {
            let quoted = table.replace('"', "\"\"");
            sqlx::query(&format!("ANALYZE \"{quoted}\"")).execute(&self.pool).await?;
        }
        Ok(stale)
    }

    /// Whether the database answers.
    pub async fn ping(&self) -> DbResult<()> {
        sqlx::query("SELECT 1").execute(&self.pool).await?;
        Ok(())
    }

    /// Empties the write-ahead log into the database file and cuts it to
    /// nothing (SQLite, at a clean stop; a no-op elsewhere).
    pub async fn truncate_log(&self) -> DbResult<()> {
        if self.backend != Backend::Sqlite {
            return Ok(());
        }
        // A checkpoint under way (the background one, stopped a moment
        // ago, runs its statement to the end) makes this one give up at
        // once (`busy`, the first column): it tries again.
        for _ in 0..250 {
            // It takes the write lock: in turn, like any writer.
            let mut conn = self.write_conn().await?;
            let row = sqlx::query("PRAGMA wal_checkpoint(TRUNCATE)").fetch_one(&mut *conn).await?;
            let busy: i64 = sqlx::Row::try_get(&row, 0)?;
            if busy == 0 {
                return Ok(());
            }
            drop(conn);
            tokio::time::sleep(std::time::Duration::from_millis(20)).await;
        }
        Err(DbError::Busy("the write-ahead log stayed in use for 5 s"))
    }

    /// Makes what an erasure removed unrecoverable from the files. On
    /// SQLite (`secure_delete` zeroes freed space on every page as it is
    /// written) the write-ahead log, which still holds the pages as they
    /// were, is copied back and cut to nothing. On PostgreSQL an `UPDATE`
    /// or `DELETE` leaves the old row versions in the table's pages until
    /// a `VACUUM` removes them; it is run here on `tables`, which makes
    /// their space free for reuse (bytes may stay in that free space, and
    /// in the server's own WAL files, until they are written over:
    /// PostgreSQL has no secure delete, see the README).
    pub async fn forget_freed(&self, tables: &[&str]) -> DbResult<()> {
        match self.backend {
            Backend::Sqlite => self.truncate_log().await,
            Backend::Postgres => {
                let mut conn = self.pool.acquire().await?;
                for table in tables {
                    sqlx::query(&format!("VACUUM {table}")).execute(&mut *conn).await?;
                }
                Ok(())
            }
        }
    }

    /// A connection to write with outside a transaction, in turn.
    pub async fn write_conn(&self) -> DbResult<WriteConn> {
        let turn = self.turn(Priority::Normal).await;
        Ok(WriteConn { conn: self.pool.acquire().await?, _turn: turn })
    }

    /// This process's turn to write, on SQLite (taken before the
    /// connection, so that no one holds a connection while queued).
    async fn turn(&self, priority: Priority) -> Option<turns::Turn> {
        match self.backend {
            Backend::Sqlite => Some(self.turns.take(priority).await),
            Backend::Postgres => None,
        }
    }

    /// A write transaction that touches no one store's data (a new
    /// store, a published version). On SQLite it takes the write lock up
    /// front (`BEGIN IMMEDIATE`) so two writers queue instead of failing.
    pub async fn begin_write(&self) -> DbResult<Tx> {
        self.begin_in_turn(Priority::Normal).await
    }

    /// A write transaction storing events a client waits for: on SQLite
    /// its turn comes before the workers' (`turns`).
    pub async fn begin_intake(&self) -> DbResult<Tx> {
        self.begin_in_turn(Priority::Intake).await
    }

    async fn begin_in_turn(&self, priority: Priority) -> DbResult<Tx> {
        let turn = self.turn(priority).await;
        let conn = match self.backend {
            Backend::Sqlite => self.pool.begin_with("BEGIN IMMEDIATE").await?,
            Backend::Postgres => self.pool.begin().await?,
        };
        Ok(Tx { conn, _turn: turn })
    }

    /// A write transaction on one store's data. Every such transaction of
    /// the store runs alone: on SQLite because every write transaction
    /// does, on PostgreSQL because it first takes the store's advisory
    /// lock (held until commit or rollback). So the read-then-write steps
    /// (spend the oldest lots, one enabled install per world, at most one
    /// active flow) see the same world on both engines, whatever other
    /// nodes do meanwhile.
    pub async fn begin_store(&self, store: &str) -> DbResult<Tx> {
        let mut tx = self.begin_write().await?;
        if self.backend == Backend::Postgres {
            sqlx::query("SELECT pg_advisory_xact_lock(hashtext($1))")
                .bind(store)
                .execute(&mut *tx)
                .await?;
        }
        Ok(tx)
    }
}

/// Reads a JSON TEXT column, falling back to `default` on bad data.
pub fn json_col(text: Option<String>, default: serde_json::Value) -> serde_json::Value {
    text.and_then(|t| serde_json::from_str(&t).ok()).unwrap_or(default)
}

/// Reads a TEXT column holding one of a closed set of states.
pub fn state_col<T>(
    r: &sqlx::any::AnyRow,
    column: &'static str,
    parse: fn(&str) -> Option<T>,
) -> DbResult<T> {
    use sqlx::Row;
    let value: String = r.try_get(column)?;
    parse(&value).ok_or(DbError::UnknownValue { column, value })
}
