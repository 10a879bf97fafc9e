//! Complaints: the store's and a customer's, open or resolved, with their
//! due time (a service-recovery plugin's SLA) and whether it was met.

use axum::Json;
use serde::{Deserialize, Serialize};
use utoipa::ToSchema;

use super::auth::{CustomerScope, StoreScope};
use super::params::{CustomerPath, StorePath, ValidQuery};
use super::ApiError;
use crate::db::complaints::{self, Complaint, ComplaintState};
use crate::domain::time::{now_ms, to_rfc3339};

/// A complaint: what was filed, when it was due and how it ended.
#[derive(Serialize, ToSchema)]
pub struct ComplaintView {
    pub id: String,
    pub customer_id: String,
    pub order_id: Option<String>,
    pub category: String,
    /// 1 (minor) to 3 (serious).
    pub severity: u8,
    pub state: ComplaintState,
    #[schema(format = DateTime)]
    pub filed_at: String,
    /// When it must be resolved by, as the store's service-recovery plugin
    /// set it (its SLA); none without one.
    #[schema(format = DateTime)]
    pub due_at: Option<String>,
    #[schema(format = DateTime)]
    pub resolved_at: Option<String>,
    pub resolution: Option<String>,
    pub satisfied: Option<bool>,
    /// Resolved by its due time; `false` too for an open complaint past
    /// it; none while open and not yet due, or without a due time.
    pub sla_met: Option<bool>,
    /// How long an open complaint has been past its due time.
    pub overdue_seconds: Option<i64>,
}

impl ComplaintView {
    pub(super) fn new(c: &Complaint, now: i64) -> Self {
        let overdue = match (c.resolved_at, c.due_at) {
            (None, Some(due)) if now > due => Some((now - due) / 1000),
            _ => None,
        };
        ComplaintView {
            id: c.id.clone(),
            customer_id: c.customer_id.clone(),
            order_id: c.order_id.clone(),
            category: c.category.clone(),
            severity: c.severity,
            state: if c.resolved_at.is_some() {
                ComplaintState::Resolved
            } else {
                ComplaintState::Open
            },
            filed_at: to_rfc3339(c.filed_at),
            due_at: c.due_at.map(to_rfc3339),
            resolved_at: c.resolved_at.map(to_rfc3339),
            resolution: c.resolution.clone(),
            satisfied: c.satisfied,
            sla_met: c.sla_met(now),
            overdue_seconds: overdue,
        }
    }
}

#[derive(Deserialize, utoipa::IntoParams)]
#[into_params(parameter_in = Query)]
pub struct ComplaintQuery {
    /// Only open or only resolved complaints.
    state: Option<ComplaintState>,
    /// At most this many, newest filing first: 1 to 1000, 100 when left out.
    #[param(minimum = 1, maximum = 1000)]
    limit: Option<u32>,
}

impl ComplaintQuery {
    fn limit(&self) -> Result<u32, ApiError> {
        let limit = self.limit.unwrap_or(100);
        if !(1..=1000).contains(&limit) {
            return Err(ApiError::field("limit", "must be 1 to 1000"));
        }
        Ok(limit)
    }
}

/// The store's complaints
#[utoipa::path(get, path = "/v1/stores/{store}/complaints", operation_id = "listComplaints", tag = "customers",
    params(StorePath, ComplaintQuery), responses((status = 200, body = Vec<ComplaintView>)))]
pub async fn list(
    scope: StoreScope,
    ValidQuery(q): ValidQuery<ComplaintQuery>,
) -> Result<Json<Vec<ComplaintView>>, ApiError> {
    let limit = q.limit()?;
    let mut conn = scope.conn().await?;
    let list = complaints::list(&mut conn, &scope.store, None, q.state, limit).await?;
    let now = now_ms();
    Ok(Json(list.iter().map(|c| ComplaintView::new(c, now)).collect()))
}

/// A customer's complaints
#[utoipa::path(get, path = "/v1/stores/{store}/customers/{customer}/complaints", operation_id = "listCustomerComplaints", tag = "customers",
    params(StorePath, CustomerPath, ComplaintQuery), responses((status = 200, body = Vec<ComplaintView>)))]
pub async fn of_customer(
    scope: CustomerScope,
    ValidQuery(q): ValidQuery<ComplaintQuery>,
) -> Result<Json<Vec<ComplaintView>>, ApiError> {
    let limit = q.limit()?;
    let mut conn = scope.conn().await?;
    let list =
        complaints::list(&mut conn, &scope.store, Some(&scope.customer), q.state, limit).await?;
    let now = now_ms();
    Ok(Json(list.iter().map(|c| ComplaintView::new(c, now)).collect()))
}
