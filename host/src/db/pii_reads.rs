//! Who read customers' personal data through the API: profiles with an
//! e-mail, phone, name or birthday returned, counted per reader (a key or
//! a console session) and UTC day.

use serde::Serialize;
use sqlx::Row;

use super::{Conn, DbResult};
use crate::domain::time::{Millis, DAY_MS};

/// Adds `profiles` to what `reader` read today.
pub async fn count(
    conn: &mut Conn,
    store: &str,
    reader: &str,
    profiles: u64,
    now: Millis,
) -> DbResult<()> {
    sqlx::query(
        "INSERT INTO pii_reads (store_id, reader, day, profiles, last_at) VALUES ($1, $2, $3, $4, $5)
         ON CONFLICT (store_id, reader, day)
         DO UPDATE SET profiles = pii_reads.profiles + excluded.profiles, last_at = excluded.last_at",
    )
    .bind(store)
    .bind(reader)
    .bind(now.div_euclid(DAY_MS))
    .bind(profiles as i64)
    .bind(now)
    .execute(conn)
    .await?;
    Ok(())
}

/// One reader's reads of personal data.
#[derive(Debug, Clone, Serialize, utoipa::ToSchema)]
pub struct Reader {
    /// `admin token`, `store key …` (the first characters of its sha256),
    /// or `console (…)`, the session's sign-in.
    pub reader: String,
    /// Profiles with personal data returned in the last 30 days (UTC).
    pub profiles_30d: i64,
    /// Since the counts began.
    pub profiles_total: i64,
    #[serde(serialize_with = "crate::domain::time::rfc3339")]
    #[schema(value_type = String, format = DateTime)]
    pub last_read_at: Millis,
}

/// Every reader of the store's personal data, most profiles read first.
pub async fn readers(conn: &mut Conn, store: &str, now: Millis) -> DbResult<Vec<Reader>> {
    let rows = sqlx::query(
        "SELECT reader,
                CAST(SUM(CASE WHEN day > $2 THEN profiles ELSE 0 END) AS BIGINT) AS recent,
                CAST(SUM(profiles) AS BIGINT) AS total, MAX(last_at) AS last_at
         FROM pii_reads WHERE store_id = $1 GROUP BY reader ORDER BY total DESC, reader",
    )
    .bind(store)
    .bind(now.div_euclid(DAY_MS) - 30)
    .fetch_all(conn)
    .await?;
    rows.iter()
        .map(|r| {
            Ok(Reader {
                reader: r.try_get("reader")?,
                profiles_30d: r.try_get("recent")?,
                profiles_total: r.try_get("total")?,
                last_read_at: r.try_get("last_at")?,
            })
        })
        .collect()
}
