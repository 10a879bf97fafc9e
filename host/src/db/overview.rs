//! A store's figures at a glance, for the console's overview: activity by
//! day, the points flow, members by tier, rescue flows by state, customers
//! at risk, and the NPS and CSAT trend. Days are the store's: an instant
//! belongs to the day of `instant + offset` (the store's UTC offset now).

use std::collections::BTreeMap;

use serde::Serialize;
use sqlx::Row;

use super::{Conn, DbResult};

use crate::domain::time::DAY_MS;

/// One day's activity.
#[derive(Debug, Serialize, utoipa::ToSchema, Default, Clone)]
pub struct Day {
    /// `YYYY-MM-DD`, in the store's time zone.
    pub day: String,
    pub events: i64,
    pub orders: i64,
    /// Points earned that day.
    pub points_issued: i64,
    /// NPS of that day's responses to NPS surveys (−100 to 100), if any.
    pub nps: Option<f64>,
    /// Share of satisfied (4–5) responses to CSAT surveys, in percent.
    pub csat: Option<f64>,
}

/// Points over the window, by what moved them.
#[derive(Debug, Serialize, utoipa::ToSchema, Default)]
pub struct PointsFlow {
    pub issued: i64,
    pub redeemed: i64,
    pub expired: i64,
    pub deducted: i64,
}

/// How many of something there are, by name.
#[derive(Debug, Serialize, utoipa::ToSchema)]
pub struct Count {
    /// The tier, state or segment (`none` for customers without a tier).
    pub name: String,
    pub count: i64,
}

#[derive(Debug, Serialize, utoipa::ToSchema)]
pub struct Overview {
    /// Every day of the window, oldest first, empty days included.
    pub days: Vec<Day>,
    pub points: PointsFlow,
    pub customers: i64,
    pub tiers: Vec<Count>,
    pub flows: Vec<Count>,
    /// Customers whose latest churn assessment has a risk of 0.5 or more.
    pub at_risk: i64,
    pub assessed: i64,
}

fn day_of(at: i64, offset_ms: i64) -> String {
    let local = at + offset_ms;
    chrono::DateTime::from_timestamp_millis(local.div_euclid(DAY_MS) * DAY_MS)
        .map(|d| d.format("%Y-%m-%d").to_string())
        .unwrap_or_default()
}

/// The overview of `days` days up to `now`, days cut at `offset_ms`.
pub async fn of_store(
    conn: &mut Conn,
    store: &str,
    now: i64,
    days: u32,
    offset_ms: i64,
) -> DbResult<Overview> {
    let today = (now + offset_ms).div_euclid(DAY_MS);
    let first = today - i64::from(days) + 1;
    let from = first * DAY_MS - offset_ms;
    let mut by_day: BTreeMap<String, Day> = (first..=today)
        .map(|d| {
            let day = day_of(d * DAY_MS - offset_ms, offset_ms);
            (day.clone(), Day { day, ..Day::default() })
        })
        .collect();
    // Bucketed in SQL, so the rows read are days, not events.
    let bucket = |col: &str| format!("(({col} + $2) - (({col} + $2) % {DAY_MS})) / {DAY_MS}");
    let b = bucket("occurred_at");
    let sql = format!(
        "SELECT {b} AS d, COUNT(*) AS n,
                CAST(SUM(CASE WHEN type = 'order.placed' THEN 1 ELSE 0 END) AS BIGINT) AS orders
         FROM events WHERE store_id = $1 AND occurred_at >= $3 GROUP BY {b}"
    );
    for r in days_of(conn, &sql, store, offset_ms, from).await? {
        if let Some(day) = the_day(&mut by_day, &r, offset_ms)? {
            day.events = r.try_get("n")?;
            day.orders = r.try_get::<Option<i64>, _>("orders")?.unwrap_or(0);
        }
    }
    // Points count on the day of the event that earned them (an entry
    // without one, on the day it was made).
    let b = bucket("COALESCE(e.occurred_at, l.created_at)");
    let sql = format!(
        "SELECT {b} AS d, CAST(SUM(l.points) AS BIGINT) AS p FROM ledger_entries l
         LEFT JOIN events e ON e.store_id = l.store_id AND e.id = l.event_id
         WHERE l.store_id = $1 AND l.kind = 'earn' AND COALESCE(e.occurred_at, l.created_at) >= $3
         GROUP BY {b}"
    );
    for r in days_of(conn, &sql, store, offset_ms, from).await? {
        if let Some(day) = the_day(&mut by_day, &r, offset_ms)? {
            day.points_issued = r.try_get::<Option<i64>, _>("p")?.unwrap_or(0);
        }
    }
    survey_trend(conn, store, from, offset_ms, &mut by_day).await?;

    let mut points = PointsFlow::default();
    let rows = sqlx::query(
        "SELECT l.kind AS kind, CAST(SUM(l.points) AS BIGINT) AS p FROM ledger_entries l
         LEFT JOIN events e ON e.store_id = l.store_id AND e.id = l.event_id
         WHERE l.store_id = $1 AND COALESCE(e.occurred_at, l.created_at) >= $2 GROUP BY l.kind",
    )
    .bind(store)
    .bind(from)
    .fetch_all(&mut *conn)
    .await?;
    for r in rows {
        let p = r.try_get::<Option<i64>, _>("p")?.unwrap_or(0).abs();
        match r.try_get::<String, _>("kind")?.as_str() {
            "earn" => points.issued = p,
            "redeem" => points.redeemed = p,
            "expire" => points.expired = p,
            "deduct" => points.deducted = p,
            _ => {}
        }
    }
    let tiers = counts(
        conn,
        "SELECT COALESCE(tier, 'none') AS name, COUNT(*) AS n FROM customers
         WHERE store_id = $1 GROUP BY COALESCE(tier, 'none') ORDER BY name",
        store,
    )
    .await?;
    let flows = counts(
        conn,
        "SELECT state AS name, COUNT(*) AS n FROM flows WHERE store_id = $1
         GROUP BY state ORDER BY state",
        store,
    )
    .await?;
    let customers: i64 = sqlx::query_scalar("SELECT COUNT(*) FROM customers WHERE store_id = $1")
        .bind(store)
        .fetch_one(&mut *conn)
        .await?;
    let r = sqlx::query(
        "SELECT COUNT(*) AS n, CAST(SUM(CASE WHEN risk >= 0.5 THEN 1 ELSE 0 END) AS BIGINT) AS risky
         FROM assessments WHERE store_id = $1",
    )
    .bind(store)
    .fetch_one(&mut *conn)
    .await?;
    Ok(Overview {
        days: by_day.into_values().collect(),
        points,
        customers,
        tiers,
        flows,
        at_risk: r.try_get::<Option<i64>, _>("risky")?.unwrap_or(0),
        assessed: r.try_get("n")?,
    })
}

/// The rows of a by-day query (`$1` store, `$2` offset, `$3` from).
async fn days_of(
    conn: &mut Conn,
    sql: &str,
    store: &str,
    offset_ms: i64,
    from: i64,
) -> DbResult<Vec<sqlx::any::AnyRow>> {
    Ok(sqlx::query(sql).bind(store).bind(offset_ms).bind(from).fetch_all(conn).await?)
}

/// The day of a row bucketed by day (column `d`, days since the epoch in
/// the store's time), if the window has it.
fn the_day<'a>(
    by_day: &'a mut BTreeMap<String, Day>,
    r: &sqlx::any::AnyRow,
    offset_ms: i64,
) -> DbResult<Option<&'a mut Day>> {
    let d: i64 = r.try_get("d")?;
    Ok(by_day.get_mut(&day_of(d * DAY_MS - offset_ms, offset_ms)))
}

async fn counts(conn: &mut Conn, sql: &str, store: &str) -> DbResult<Vec<Count>> {
    let rows = sqlx::query(sql).bind(store).fetch_all(conn).await?;
    rows.iter().map(|r| Ok(Count { name: r.try_get("name")?, count: r.try_get("n")? })).collect()
}

/// NPS and CSAT by day, from the stored scores of NPS and CSAT surveys'
/// responses (`{"score": …}`): NPS = % promoters (9–10) − % detractors
/// (0–6); CSAT = % of 4–5.
async fn survey_trend(
    conn: &mut Conn,
    store: &str,
    from: i64,
    offset_ms: i64,
    by_day: &mut BTreeMap<String, Day>,
) -> DbResult<()> {
    let rows = sqlx::query(
        "SELECT s.kind AS kind, r.submitted_at AS at, r.score AS score
         FROM survey_responses r JOIN surveys s ON s.store_id = r.store_id AND s.id = r.survey_id
         WHERE r.store_id = $1 AND r.submitted_at >= $2 AND s.kind IN ('nps', 'csat')
           AND r.score IS NOT NULL",
    )
    .bind(store)
    .bind(from)
    .fetch_all(&mut *conn)
    .await?;
    // day → (responses, promoters or satisfied, detractors), per kind.
    let mut tally: BTreeMap<(String, String), (i64, i64, i64)> = BTreeMap::new();
    for r in rows {
        let kind: String = r.try_get("kind")?;
        let at: i64 = r.try_get("at")?;
        let score: Option<String> = r.try_get("score")?;
        let Some(s) = score
            .and_then(|t| serde_json::from_str::<serde_json::Value>(&t).ok())
            .and_then(|v| v["score"].as_i64())
        else {
            continue;
        };
        let t = tally.entry((day_of(at, offset_ms), kind.clone())).or_default();
        t.0 += 1;
        match kind.as_str() {
            "nps" if s >= 9 => t.1 += 1,
            "nps" if s <= 6 => t.2 += 1,
            "csat" if s >= 4 => t.1 += 1,
            _ => {}
        }
    }
    for ((day, kind), (n, good, bad)) in tally {
        let Some(d) = by_day.get_mut(&day) else {
            continue;
        };
        let pct = |x: i64| (1000.0 * x as f64 / n as f64).round() / 10.0;
        if kind == "nps" {
            d.nps = Some(pct(good - bad));
        } else {
            d.csat = Some(pct(good));
        }
    }
    Ok(())
}

#[cfg(test)]
mod tests {
    #[test]
    fn days_are_the_stores() {
        // 2026-03-05T20:00Z is already the 6th in Shanghai (UTC+8).
        let at = 1_772_740_800_000;
        assert_eq!(super::day_of(at, 0), "2026-03-05");
        assert_eq!(super::day_of(at, 8 * 3_600_000), "2026-03-06");
        assert_eq!(super::day_of(at, -5 * 3_600_000), "2026-03-05");
    }
}
