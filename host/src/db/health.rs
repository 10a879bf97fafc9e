//! Whether the database answers, as this node last saw it. An error that
//! says the database is away for now — the server unreachable, starting
//! up or shutting down, a connection cut, no connection to be had within
//! the pool's wait, SQLite's file locked, full or unwritable — is
//! *transient*: requests answer 503 with `Retry-After`, and background
//! work backs off and tries again by itself. The outage is logged once
//! when it begins and once when it ends, not once per attempt.

use std::sync::Mutex;
use std::time::{Duration, Instant};

use super::DbError;
use crate::domain::time::{now_ms, Millis};

/// How long a request waits for a connection before it is answered 503.
pub const ACQUIRE_WITHIN: Duration = Duration::from_secs(3);

#[derive(Default)]
pub struct Health(Mutex<Option<Outage>>);

#[derive(Clone, Copy)]
struct Outage {
    began: Instant,
    at: Millis,
    /// Background attempts that met it (for the back-off).
    attempts: u32,
}

impl Health {
    /// Background work met `e`: true if it is the database being away
    /// (the caller waits `pause()` and tries again). The first such error
    /// of an outage is logged; the others are not.
    pub fn away(&self, e: &DbError) -> bool {
        if !e.is_transient() {
            return false;
        }
        let mut outage = self.0.lock().expect("health");
        match outage.as_mut() {
            Some(o) => o.attempts += 1,
            None => {
                tracing::error!(error = %e,
                    "the database is unreachable: requests answer 503 with Retry-After, \
                     background work waits and resumes when it answers again");
                *outage = Some(Outage { began: Instant::now(), at: now_ms(), attempts: 1 });
            }
        }
        true
    }

    /// The database answered: an outage, if there was one, is over.
    pub fn answered(&self) {
        if let Some(o) = self.0.lock().expect("health").take() {
            tracing::warn!(
                seconds = o.began.elapsed().as_secs_f64(),
                attempts = o.attempts,
                "the database answers again; background work resumes"
            );
        }
    }

    /// Since when the database has been away (epoch ms), if it is.
    pub fn away_since(&self) -> Option<Millis> {
        self.0.lock().expect("health").map(|o| o.at)
    }

    /// How long background work waits before trying again during an
    /// outage: 0.25 s, doubling with each attempt that met it, at most 4 s.
    pub fn pause(&self) -> Duration {
        let attempts = self.0.lock().expect("health").map_or(0, |o| o.attempts);
        Duration::from_millis(250 << attempts.min(4))
    }
}

impl DbError {
    /// The database is away for now, not wrong: the same request may
    /// succeed once it answers again.
    pub fn is_transient(&self) -> bool {
        match self {
            DbError::Sqlx(e) => transient(e),
            DbError::Busy(_) => true,
            _ => false,
        }
    }
}

fn transient(e: &sqlx::Error) -> bool {
    match e {
        sqlx::Error::Io(_)
        | sqlx::Error::Tls(_)
        | sqlx::Error::PoolTimedOut
        | sqlx::Error::PoolClosed
        | sqlx::Error::WorkerCrashed => true,
        sqlx::Error::Database(db) => {
            db.code().is_some_and(|code| transient_code(&code))
                // A database closed to connections for maintenance
                // (`ALLOW_CONNECTIONS false`): 55000 is otherwise a fault.
                || (db.code().as_deref() == Some("55000")
                    && db.message().contains("not currently accepting connections"))
        }
        _ => false,
    }
}

/// A PostgreSQL SQLSTATE, or an SQLite result code, that says "not now".
fn transient_code(code: &str) -> bool {
    // A SQLSTATE has five characters (often all digits); an SQLite code
    // is a number of at most four digits, whose low byte is the primary
    // code: BUSY, LOCKED, READONLY (the file made unwritable), IOERR,
    // FULL (the disk), CANTOPEN.
    if code.len() < 5 {
        return code.parse::<i64>().is_ok_and(|n| matches!(n & 0xff, 5 | 6 | 8 | 10 | 13 | 14));
    }
    // PostgreSQL: connection exceptions (08…), the server shutting down
    // or starting up (57P01-57P03), out of connections (53300) or
    // resources (53…), a serialization failure or deadlock (40001,
    // 40P01), which a retry resolves.
    code.starts_with("08")
        || code.starts_with("53")
        || matches!(code, "57P01" | "57P02" | "57P03" | "40001" | "40P01")
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn what_says_not_now() {
        for code in [
            "5", "517", "13", "8", "1032", "10", "14", "08006", "57P01", "57P03", "53300", "40001",
            "40P01",
        ] {
            assert!(transient_code(code), "{code}");
        }
        for code in ["19", "2067", "1", "23505", "42P01", "22P02", "XX000"] {
            assert!(!transient_code(code), "{code}");
        }
        assert!(DbError::Sqlx(sqlx::Error::PoolTimedOut).is_transient());
        assert!(!DbError::Sqlx(sqlx::Error::RowNotFound).is_transient());
    }

    #[tokio::test]
    async fn an_unwritable_sqlite_file_is_transient() {
        let dir = tempfile::tempdir().unwrap();
        let db =
            super::super::Db::connect(&super::super::Db::sqlite_url(dir.path()), 1).await.unwrap();
        sqlx::query("CREATE TABLE t (x INTEGER)").execute(&db.pool).await.unwrap();
        db.pool.close().await;
        let url = format!("sqlite://{}?mode=ro", dir.path().join("clientele.db").display());
        let mut ro = <sqlx::AnyConnection as sqlx::Connection>::connect(&url).await.unwrap();
        let e: DbError =
            sqlx::query("INSERT INTO t VALUES (1)").execute(&mut ro).await.unwrap_err().into();
        assert!(e.is_transient(), "{e}");
    }

    #[test]
    fn an_outage_is_noted_once_and_backs_off() {
        let h = Health::default();
        assert!(h.away_since().is_none());
        assert!(h.away(&DbError::Sqlx(sqlx::Error::PoolTimedOut)));
        let since = h.away_since().unwrap();
        assert!(h.away(&DbError::Sqlx(sqlx::Error::PoolTimedOut)));
        assert_eq!(h.away_since(), Some(since));
        assert!(h.pause() > Duration::from_millis(250));
        assert!(!h.away(&DbError::Sqlx(sqlx::Error::RowNotFound)));
        h.answered();
        assert!(h.away_since().is_none());
        assert_eq!(h.pause(), Duration::from_millis(250));
    }
}
