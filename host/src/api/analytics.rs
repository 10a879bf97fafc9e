//! Retention analytics: cohorts and period rates over the store's local
//! calendar, read from the counters kept at intake (`db::activity`).

use axum::Json;
use chrono::NaiveDate;
use serde::{Deserialize, Serialize};
use utoipa::ToSchema;

use super::auth::StoreScope;
use super::params::{StorePath, ValidQuery};
use super::ApiError;
use crate::db::{activity, stores};
use crate::domain::period::{rate, Grain};

/// Most periods one report covers.
const MAX_PERIODS: i64 = 400;

#[derive(Deserialize, utoipa::IntoParams)]
#[into_params(parameter_in = Query)]
pub struct RetentionQuery {
    /// `month` (the default) or `week` (weeks start on Monday).
    period: Option<Grain>,
    /// A day in the first period (`YYYY-MM-DD`, the store's calendar).
    #[param(format = Date, example = "2026-01-01")]
    from: String,
    /// A day in the last period.
    #[param(format = Date, example = "2026-06-30")]
    to: String,
}

/// How many of a cohort's customers were active in each period.
#[derive(Serialize, ToSchema)]
pub struct CohortRow {
    /// The cohort's period (`2026-03`, or the ISO week `2026-W10`).
    #[schema(example = "2026-01")]
    pub period: String,
    #[schema(format = Date)]
    pub start: String,
    /// Customers whose first order ever was in this period.
    pub customers: i64,
    /// Of them, how many were active in each period from the cohort's own
    /// (the first number, equal to `customers`) up to `to`.
    pub active: Vec<i64>,
    /// `active` as shares of `customers`, 4 decimals.
    pub shares: Vec<f64>,
}

/// One period's activity and rates.
#[derive(Serialize, ToSchema)]
pub struct PeriodRow {
    #[schema(example = "2026-01")]
    pub period: String,
    #[schema(format = Date)]
    pub start: String,
    #[schema(format = Date)]
    pub end: String,
    /// Customers who placed an order in it.
    pub active: i64,
    /// Customers whose first order ever was in it.
    pub new: i64,
    /// Active customers who had ordered before it.
    pub returning: i64,
    /// Customers active in it and in the period before.
    pub retained: i64,
    /// Customers active in the period before.
    pub active_before: i64,
    /// retained / active_before; null when active_before is 0.
    pub retention_rate: Option<f64>,
    /// (active_before − retained) / active_before; null when active_before is 0.
    pub churn_rate: Option<f64>,
    /// returning / active; null when active is 0.
    pub repeat_rate: Option<f64>,
    /// Customers who filed a complaint in it.
    pub complainers: i64,
    /// complainers / active; null when active is 0.
    pub complaint_rate: Option<f64>,
    /// Totals of the orders placed in it.
    pub revenue_cents: i64,
    /// The returning customers' part of `revenue_cents`.
    pub returning_revenue_cents: i64,
    /// returning_revenue_cents / revenue_cents; null with no revenue.
    pub returning_revenue_share: Option<f64>,
}

/// A store's retention over a range of periods.
#[derive(Serialize, ToSchema)]
pub struct Retention {
    pub period: Grain,
    /// The store's time zone, in which the periods are counted.
    pub timezone: String,
    pub cohorts: Vec<CohortRow>,
    pub periods: Vec<PeriodRow>,
}

fn day(field: &str, value: &str) -> Result<NaiveDate, ApiError> {
    NaiveDate::parse_from_str(value, "%Y-%m-%d")
        .map_err(|_| ApiError::field(field, "must be a date such as 2026-03-01 (YYYY-MM-DD)"))
}

/// Retention by cohort and by period
#[utoipa::path(get, path = "/v1/stores/{store}/analytics/retention", operation_id = "getRetention", tag = "stores",
    params(StorePath, RetentionQuery), responses((status = 200, body = Retention)))]
pub async fn retention(
    scope: StoreScope,
    ValidQuery(q): ValidQuery<RetentionQuery>,
) -> Result<Json<Retention>, ApiError> {
    let grain = q.period.unwrap_or(Grain::Month);
    let (from, to) = (day("from", &q.from)?, day("to", &q.to)?);
    if from > to {
        return Err(ApiError::field("to", "must not be before `from`"));
    }
    let (first, last) = (grain.period_of(from), grain.period_of(to));
    if last - first >= MAX_PERIODS {
        return Err(ApiError::field("to", format!("at most {MAX_PERIODS} periods in one report")));
    }
    let mut conn = scope.conn().await?;
    let store = stores::get(&mut conn, &scope.store)
        .await?
        .ok_or_else(|| ApiError::not_found(format!("store `{}` not found", scope.store)))?;
    // The period before the first too: its active customers are the first
    // period's base for retention.
    let counts = activity::periods(&mut conn, &scope.store, grain, first - 1, last).await?;
    let periods = counts
        .windows(2)
        .zip(first..)
        .map(|(pair, p)| {
            let (before, c) = (&pair[0], &pair[1]);
            let returning = c.active - c.new;
            PeriodRow {
                period: grain.label(p),
                start: grain.start(p).to_string(),
                end: grain.end(p).to_string(),
                active: c.active,
                new: c.new,
                returning,
                retained: c.retained,
                active_before: before.active,
                retention_rate: rate(c.retained, before.active),
                churn_rate: rate(before.active - c.retained, before.active),
                repeat_rate: rate(returning, c.active),
                complainers: c.complainers,
                complaint_rate: rate(c.complainers, c.active),
                revenue_cents: c.revenue_cents,
                returning_revenue_cents: c.returning_revenue_cents,
                returning_revenue_share: rate(c.returning_revenue_cents, c.revenue_cents),
            }
        })
        .collect();
    let mut cohorts: Vec<CohortRow> = Vec::new();
    for (cohort, p, active) in
        activity::cohorts(&mut conn, &scope.store, grain, first, last).await?
    {
        if cohorts.last().is_none_or(|row| row.period != grain.label(cohort)) {
            cohorts.push(CohortRow {
                period: grain.label(cohort),
                start: grain.start(cohort).to_string(),
                customers: 0,
                active: vec![0; (last - cohort + 1) as usize],
                shares: Vec::new(),
            });
        }
        let row = cohorts.last_mut().expect("pushed above");
        row.active[(p - cohort) as usize] = active;
    }
    cohorts.retain_mut(|row| {
        row.customers = row.active[0];
        row.shares = row.active.iter().map(|a| rate(*a, row.customers).unwrap_or(0.0)).collect();
        row.customers > 0
    });
    Ok(Json(Retention { period: grain, timezone: store.timezone, cohorts, periods }))
}
