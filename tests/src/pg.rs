//! The harness's backend switch. `CLIENTELE_TEST_DATABASE=postgres` runs
//! every server of the suite on PostgreSQL (`CLIENTELE_TEST_POSTGRES`,
//! default `postgres://postgres@127.0.0.1:5432`): one database per data
//! directory, so a test that restarts a server on its directory finds its
//! data again. Databases are named after the test process; each process
//! first drops those of processes that are gone (`scripts/test` drops the
//! last ones). Not while tests run: PostgreSQL checkpoints on every
//! `DROP DATABASE`, and the I/O of that would stall the timing tests.

use std::path::Path;

use sqlx::Connection;

/// Whether this run is on PostgreSQL.
pub fn enabled() -> bool {
    std::env::var("CLIENTELE_TEST_DATABASE").is_ok_and(|v| v == "postgres")
}

/// The server to make databases on.
pub fn server_url() -> String {
    std::env::var("CLIENTELE_TEST_POSTGRES")
        .unwrap_or_else(|_| "postgres://postgres@127.0.0.1:5432".into())
}

static CLEANED: tokio::sync::OnceCell<()> = tokio::sync::OnceCell::const_new();

/// A connection to the server's `postgres` database, for the harness.
pub async fn admin() -> sqlx::PgConnection {
    sqlx::PgConnection::connect(&format!("{}/postgres", server_url()))
        .await
        .expect("PostgreSQL is reachable (CLIENTELE_TEST_POSTGRES)")
}

/// Drops the databases of earlier test processes that have ended.
async fn clean_old() {
    let mut conn = admin().await;
    let names: Vec<String> =
        sqlx::query_scalar("SELECT datname FROM pg_database WHERE datname LIKE 'ct\\_%'")
            .fetch_all(&mut conn)
            .await
            .unwrap();
    for name in names {
        let pid = name.split('_').nth(1).and_then(|p| p.parse::<u32>().ok());
        let alive = pid.is_some_and(|p| Path::new(&format!("/proc/{p}")).exists());
        if !alive {
            let _ = sqlx::query(&format!("DROP DATABASE IF EXISTS \"{name}\" WITH (FORCE)"))
                .execute(&mut conn)
                .await;
        }
    }
}

/// The database URL for a server on `data_dir` (made if new), or `None`
/// on SQLite runs.
pub async fn database_for(data_dir: &Path) -> Option<String> {
    if !enabled() {
        return None;
    }
    CLEANED.get_or_init(clean_old).await;
    let name = database_name(data_dir);
    let mut conn = admin().await;
    let exists: Option<i32> = sqlx::query_scalar("SELECT 1 FROM pg_database WHERE datname = $1")
        .bind(&name)
        .fetch_optional(&mut conn)
        .await
        .unwrap();
    if exists.is_none() {
        sqlx::query(&format!("CREATE DATABASE \"{name}\"")).execute(&mut conn).await.unwrap();
    }
    Some(format!("{}/{name}", server_url()))
}

/// `ct_<pid>_<hash of the directory>`.
fn database_name(data_dir: &Path) -> String {
    use std::hash::{Hash, Hasher};
    let mut h = std::collections::hash_map::DefaultHasher::new();
    data_dir.hash(&mut h);
    format!("ct_{}_{:016x}", std::process::id(), h.finish())
}
