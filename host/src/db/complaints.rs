//! Complaints, as `complaint.filed` and `complaint.resolved` say: filed
//! once per id (a second filing of an id changes nothing), resolved once
//! (by the customer who filed it), and given a due time by a
//! service-recovery plugin (its SLA).

use sqlx::Row;

use super::{Conn, DbResult};
use crate::domain::event::{ComplaintFiled, ComplaintResolved};
use crate::domain::period::{local_day, Grain};
use crate::domain::time::Millis;

/// A `complaint.filed` event.
pub struct Filing<'a> {
    pub event_id: &'a str,
    pub customer: &'a str,
    pub filed: &'a ComplaintFiled,
    pub at: Millis,
}

/// A `complaint.resolved` event.
pub struct Resolution<'a> {
    pub event_id: &'a str,
    pub customer: &'a str,
    pub resolved: &'a ComplaintResolved,
    pub at: Millis,
}

/// Files and resolves, in that order (a complaint filed and resolved in
/// one batch ends resolved). A resolution of a complaint the store does
/// not have, or has for another customer, changes nothing.
pub async fn record(
    conn: &mut Conn,
    store: &str,
    timezone: &str,
    filings: &[Filing<'_>],
    resolutions: &[Resolution<'_>],
) -> DbResult<()> {
    for f in filings {
        let day = local_day(timezone, f.at);
        sqlx::query(
            "INSERT INTO complaints (store_id, complaint_id, customer_id, order_id, category, severity,
                                     filed_at, filed_event, filed_month, filed_week)
             VALUES ($1, $2, $3, $4, $5, $6, $7, $8, $9, $10)
             ON CONFLICT (store_id, complaint_id) DO NOTHING",
        )
        .bind(store)
        .bind(&f.filed.complaint_id)
        .bind(f.customer)
        .bind(f.filed.order_id.as_deref())
        .bind(&f.filed.category)
        .bind(i64::from(f.filed.severity))
        .bind(f.at)
        .bind(f.event_id)
        .bind(Grain::Month.period_of_day(day))
        .bind(Grain::Week.period_of_day(day))
        .execute(&mut *conn)
        .await?;
    }
    for r in resolutions {
        sqlx::query(
            "UPDATE complaints SET resolved_at = $1, resolution = $2, satisfied = $3, resolved_event = $4
             WHERE store_id = $5 AND complaint_id = $6 AND customer_id = $7 AND resolved_at IS NULL",
        )
        .bind(r.at)
        .bind(&r.resolved.resolution)
        .bind(i64::from(r.resolved.satisfied))
        .bind(r.event_id)
        .bind(store)
        .bind(&r.resolved.complaint_id)
        .bind(r.customer)
        .execute(&mut *conn)
        .await?;
    }
    Ok(())
}

/// A complaint as the store holds it.
#[derive(Debug, Clone, PartialEq)]
pub struct Complaint {
    pub id: String,
    pub customer_id: String,
    pub order_id: Option<String>,
    pub category: String,
    pub severity: u8,
    pub filed_at: Millis,
    /// The event that filed it (the first, when it was filed more than once).
    pub filed_event: String,
    pub due_at: Option<Millis>,
    pub resolved_at: Option<Millis>,
    /// The event that resolved it.
    pub resolved_event: Option<String>,
    pub resolution: Option<String>,
    pub satisfied: Option<bool>,
}

impl Complaint {
    /// Whether it was resolved by its due time: none while it is open and
    /// not yet due, or when nothing set a due time.
    pub fn sla_met(&self, now: Millis) -> Option<bool> {
        let due = self.due_at?;
        match self.resolved_at {
            Some(at) => Some(at <= due),
            None if now > due => Some(false),
            None => None,
        }
    }
}

const COLUMNS: &str =
    "complaint_id, customer_id, order_id, category, severity, filed_at, filed_event,
                       due_at, resolved_at, resolved_event, resolution, satisfied";

fn read(r: &sqlx::any::AnyRow) -> DbResult<Complaint> {
    Ok(Complaint {
        id: r.try_get("complaint_id")?,
        customer_id: r.try_get("customer_id")?,
        order_id: r.try_get("order_id")?,
        category: r.try_get("category")?,
        severity: r.try_get::<i64, _>("severity")?.clamp(1, 3) as u8,
        filed_at: r.try_get("filed_at")?,
        filed_event: r.try_get("filed_event")?,
        due_at: r.try_get("due_at")?,
        resolved_at: r.try_get("resolved_at")?,
        resolved_event: r.try_get("resolved_event")?,
        resolution: r.try_get("resolution")?,
        satisfied: r.try_get::<Option<i64>, _>("satisfied")?.map(|s| s != 0),
    })
}

/// One complaint of the store.
pub async fn get(conn: &mut Conn, store: &str, id: &str) -> DbResult<Option<Complaint>> {
    let sql = format!("SELECT {COLUMNS} FROM complaints WHERE store_id = $1 AND complaint_id = $2");
    sqlx::query(&sql)
        .bind(store)
        .bind(id)
        .fetch_optional(&mut *conn)
        .await?
        .as_ref()
        .map(read)
        .transpose()
}

/// Which complaints a listing wants.
#[derive(
    Debug, Clone, Copy, PartialEq, Eq, serde::Serialize, serde::Deserialize, utoipa::ToSchema,
)]
#[serde(rename_all = "lowercase")]
pub enum ComplaintState {
    Open,
    Resolved,
}

/// The store's complaints (or one customer's), newest filing first, at
/// most `limit`.
pub async fn list(
    conn: &mut Conn,
    store: &str,
    customer: Option<&str>,
    state: Option<ComplaintState>,
    limit: u32,
) -> DbResult<Vec<Complaint>> {
    let state = match state {
        None => "",
        Some(ComplaintState::Open) => "AND resolved_at IS NULL",
        Some(ComplaintState::Resolved) => "AND resolved_at IS NOT NULL",
    };
    let sql = format!(
        "SELECT {COLUMNS} FROM complaints
         WHERE store_id = $1 AND ($2 IS NULL OR customer_id = $2) {state}
         ORDER BY filed_at DESC, complaint_id DESC LIMIT $3"
    );
    sqlx::query(&sql)
        .bind(store)
        .bind(customer)
        .bind(i64::from(limit))
        .fetch_all(&mut *conn)
        .await?
        .iter()
        .map(read)
        .collect()
}

/// Counts of the store's open complaints and of those past their due time.
pub async fn open_counts(conn: &mut Conn, store: &str, now: Millis) -> DbResult<(i64, i64)> {
    let r = sqlx::query(
        "SELECT COUNT(*) AS open, CAST(COALESCE(SUM(CASE WHEN due_at < $2 THEN 1 ELSE 0 END), 0) AS BIGINT) AS overdue
         FROM complaints WHERE store_id = $1 AND resolved_at IS NULL",
    )
    .bind(store)
    .bind(now)
    .fetch_one(&mut *conn)
    .await?;
    Ok((r.try_get("open")?, r.try_get("overdue")?))
}

/// Sets the due time (its SLA) of `customer`'s complaint `id`, as a
/// responder decided; the earliest one set stands. Whether it changed.
pub async fn set_due(
    conn: &mut Conn,
    store: &str,
    customer: &str,
    id: &str,
    due_at: Millis,
) -> DbResult<bool> {
    let done = sqlx::query(
        "UPDATE complaints SET due_at = $1
         WHERE store_id = $2 AND customer_id = $3 AND complaint_id = $4
           AND (due_at IS NULL OR due_at > $1)",
    )
    .bind(due_at)
    .bind(store)
    .bind(customer)
    .bind(id)
    .execute(&mut *conn)
    .await?;
    Ok(done.rows_affected() > 0)
}
