//! The newest lines each install's plugin wrote, kept so that its
//! developer can read them without access to the server's log.

use serde::Serialize;

use super::bulk::Style;
use super::row::read;
use super::{Conn, DbResult};
use crate::domain::time::Millis;

/// Lines kept per install (the newest).
pub const KEPT_PER_INSTALL: i64 = 1000;

/// One line a plugin wrote, as the API shows it too.
#[derive(Debug, Clone, Serialize, utoipa::ToSchema, sqlx::FromRow)]
pub struct Line {
    #[serde(skip)]
    pub id: i64,
    /// The event whose call wrote it.
    pub event_id: Option<String>,
    /// `name@version` that wrote it.
    pub plugin: String,
    #[serde(serialize_with = "crate::domain::time::rfc3339")]
    #[schema(value_type = String, format = DateTime)]
    pub at: Millis,
    /// `trace`, `debug`, `info`, `warn` or `error`.
    pub level: String,
    /// `log`, `stdout` or `stderr`.
    pub stream: String,
    pub message: String,
}

/// One line to keep: `(install, event, plugin, level, stream, message)`.
pub type NewLine<'a> = (&'a str, Option<&'a str>, &'a str, &'a str, &'a str, &'a str);

/// Keeps a batch's lines, then cuts each install's ring to its size.
pub async fn append(conn: &mut Conn, lines: &[NewLine<'_>], now: Millis) -> DbResult<()> {
    if lines.is_empty() {
        return Ok(());
    }
    for chunk in lines.chunks(super::bulk::CHUNK) {
        let sql = format!(
            "INSERT INTO plugin_logs (install_id, event_id, plugin, level, stream, message, at)
             VALUES {}",
            Style::of(conn).values(chunk.len(), 7, 1)
        );
        let mut q = sqlx::query(&sql);
        for (install, event, plugin, level, stream, message) in chunk {
            q = q
                .bind(*install)
                .bind(*event)
                .bind(*plugin)
                .bind(*level)
                .bind(*stream)
                .bind(*message)
                .bind(now);
        }
        q.execute(&mut *conn).await?;
    }
    let mut installs: Vec<&str> = lines.iter().map(|l| l.0).collect();
    installs.sort_unstable();
    installs.dedup();
    for install in installs {
        sqlx::query(
            "DELETE FROM plugin_logs WHERE install_id = $1 AND id <= (SELECT id FROM plugin_logs
               WHERE install_id = $1 ORDER BY id DESC LIMIT 1 OFFSET $2)",
        )
        .bind(install)
        .bind(KEPT_PER_INSTALL)
        .execute(&mut *conn)
        .await?;
    }
    Ok(())
}

/// The install's lines written at or after `since`, at one of `levels`,
/// oldest first, at most `limit` (the newest of them).
pub async fn list(
    conn: &mut Conn,
    install: &str,
    since: Millis,
    levels: &[&str],
    limit: u32,
) -> DbResult<Vec<Line>> {
    let sql = super::bulk::with_list(
        conn,
        &format!(
            "SELECT id, event_id, plugin, at, level, stream, message FROM plugin_logs
             WHERE install_id = $1 AND at >= $2 AND level IN ($list) ORDER BY id DESC LIMIT {limit}"
        ),
        2,
        levels.len(),
    );
    let q = sqlx::query(&sql).bind(install).bind(since);
    let rows = super::bulk::bind_list(q, levels).fetch_all(conn).await?;
    let mut list: Vec<Line> = rows.iter().map(read).collect::<DbResult<_>>()?;
    list.reverse();
    Ok(list)
}
