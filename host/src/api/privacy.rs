//! Customers' data rights: the export of everything held about one, their
//! erasure and the list of erasures, the store's privacy settings, and who
//! read personal data.

use axum::Json;
use base64::Engine;
use serde::Deserialize;
use serde_json::{json, Value};
use utoipa::IntoParams;

use super::auth::{CustomerScope, StoreScope};
use super::complaints::ComplaintView;
use super::customers::CustomerView;
use super::params::{CustomerPath, StorePath, ValidQuery};
use super::valid::Valid;
use super::ApiError;
use crate::db::erasures::Erasure;
use crate::db::pii_reads::{self, Reader};
use crate::db::stores::{self, Privacy};
use crate::db::{
    churn, complaints, customers, events, ledger, messages, outcomes, segments, state, surveys,
};
use crate::domain::customer::Customer;
use crate::domain::time::{now_ms, to_rfc3339};

/// Whether a profile holds personal data (its read is counted).
pub fn has_personal_data(c: &Customer) -> bool {
    c.email.is_some() || c.phone.is_some() || c.name.is_some() || c.birthday.is_some()
}

/// Counts the profiles with personal data a request returned.
pub async fn count_reads<'a>(
    scope: &StoreScope,
    profiles: impl IntoIterator<Item = &'a Customer>,
) -> Result<(), ApiError> {
    let n = profiles.into_iter().filter(|c| has_personal_data(c)).count() as u64;
    scope.pipeline.count_pii_reads(&scope.store, &scope.reader, n).await?;
    Ok(())
}

/// Everything the store holds about a customer, as one document
///
/// Profile, events with their outcomes, points ledger, tier, segments with
/// their attributes, churn assessments and flows, messages with their
/// delivery state, survey responses, complaints, and each install's plugin
/// state for them (base64). Counted as a read of personal data.
#[utoipa::path(get, path = "/v1/stores/{store}/customers/{customer}/export", operation_id = "exportCustomer", tag = "privacy",
    params(StorePath, CustomerPath), responses((status = 200, body = Object)))]
pub async fn export(scope: CustomerScope) -> Result<Json<Value>, ApiError> {
    let (store, customer) = (&scope.store, &scope.customer);
    let mut conn = scope.conn().await?;
    let profile = customers::get(&mut conn, store, customer)
        .await?
        .ok_or_else(|| ApiError::not_found(format!("customer `{customer}` not found")))?;
    let mut event_list = Vec::new();
    for r in events::of_customer(&mut conn, store, customer).await? {
        let e = &r.event;
        event_list.push(json!({
            "id": e.id,
            "type": e.event_type,
            "occurred_at": to_rfc3339(e.occurred_at),
            "received_at": to_rfc3339(r.received_at),
            "status": r.status,
            "data": e.data,
            "outcomes": outcomes::for_event(&mut conn, store, &e.id).await?,
        }));
    }
    let memberships: Vec<Value> = segments::memberships_of(&mut conn, store, customer)
        .await?
        .into_iter()
        .map(|(segment, attributes)| json!({"segment": segment, "attributes": attributes}))
        .collect();
    let plugin_state: Vec<Value> = state::of_customer(&mut conn, store, customer)
        .await?
        .into_iter()
        .map(|(install, key, value)| {
            json!({
                "install_id": install,
                "key": key,
                "value_base64": base64::engine::general_purpose::STANDARD.encode(value),
            })
        })
        .collect();
    let now = now_ms();
    let complaint_list: Vec<ComplaintView> =
        complaints::list(&mut conn, store, Some(customer), None, 1_000_000)
            .await?
            .iter()
            .map(|c| ComplaintView::new(c, now))
            .collect();
    let segment_names =
        memberships.iter().filter_map(|m| m["segment"].as_str().map(String::from)).collect();
    let document = json!({
        "exported_at": to_rfc3339(now),
        "store": store,
        "customer": CustomerView::new(&profile, segment_names),
        "events": event_list,
        "points_ledger": ledger::entries(&mut conn, store, customer).await?,
        "segments": memberships,
        "churn_assessments": churn::assessments_of(&mut conn, store, customer).await?,
        "churn_flows": churn::flows_of(&mut conn, store, customer).await?,
        "messages": messages::of_customer(&mut conn, store, customer).await?,
        "survey_responses": surveys::responses_of(&mut conn, store, customer).await?,
        "complaints": complaint_list,
        "plugin_state": plugin_state,
    });
    drop(conn);
    count_reads(&scope, [&profile]).await?;
    Ok(Json(document))
}

/// Erase a customer
///
/// Removes every copy of the customer's personal data: the profile's
/// e-mail, phone, name, birthday, tags and attributes; personal fields and
/// free text of their events' data and survey answers; message variables
/// (queued messages are cancelled); plugin state, segment memberships,
/// churn assessments and flows, responder timers; and every text that
/// named them. What the store keeps for its books (orders, refunds, the
/// points ledger, complaint and survey counts, retention analytics) stays
/// under a pseudonymous id. Erasing again answers the same; later events
/// for the id are refused with 409 until the store creates the customer
/// again (`PUT`).
#[utoipa::path(delete, path = "/v1/stores/{store}/customers/{customer}", operation_id = "eraseCustomer", tag = "privacy",
    params(StorePath, CustomerPath), responses((status = 200, body = Erasure)))]
pub async fn erase(scope: CustomerScope) -> Result<Json<Erasure>, ApiError> {
    let erasure =
        scope.pipeline.erase_customer(&scope.store, &scope.customer, &scope.reader).await?;
    Ok(Json(erasure))
}

#[derive(Deserialize, IntoParams)]
#[into_params(parameter_in = Query)]
pub struct ErasuresQuery {
    /// Erasures per page, 1 to 1000 (default 100), newest first.
    #[param(minimum = 1, maximum = 1000)]
    limit: Option<u32>,
}

/// The store's erasures, newest first (no personal data)
#[utoipa::path(get, path = "/v1/stores/{store}/erasures", operation_id = "listErasures", tag = "privacy",
    params(StorePath, ErasuresQuery), responses((status = 200, body = Vec<Erasure>)))]
pub async fn erasures(
    scope: StoreScope,
    ValidQuery(q): ValidQuery<ErasuresQuery>,
) -> Result<Json<Vec<Erasure>>, ApiError> {
    let limit = super::params::page_limit(q.limit)?;
    let mut conn = scope.conn().await?;
    Ok(Json(crate::db::erasures::list(&mut conn, &scope.store, limit).await?))
}

/// The store's privacy settings
#[utoipa::path(get, path = "/v1/stores/{store}/privacy", operation_id = "getPrivacy", tag = "privacy",
    params(StorePath), responses((status = 200, body = Privacy)))]
pub async fn get(scope: StoreScope) -> Result<Json<Privacy>, ApiError> {
    let mut conn = scope.conn().await?;
    Ok(Json(stores::privacy(&mut conn, &scope.store).await?))
}

/// New privacy settings; a field left out keeps its value.
#[derive(Deserialize, utoipa::ToSchema)]
#[serde(deny_unknown_fields)]
pub struct PrivacyPut {
    /// Days a raw event is kept after it arrived (1 to 36500), or `null`
    /// to keep events for ever. A daily job deletes older ones, with their
    /// outcomes; what they caused (points, orders, segments) stays.
    #[serde(default, deserialize_with = "super::customers::present")]
    #[schema(value_type = Option<i64>, minimum = 1, maximum = 36500)]
    pub events_retention_days: Option<Option<i64>>,
    /// Field names (at most 100, 1-64 characters) of the store's own event
    /// types that carry personal data: removed from an erased customer's
    /// events at any depth, beside the built-in ones.
    #[schema(schema_with = super::schemas::tags)]
    pub pii_fields: Option<Vec<String>>,
}

/// Set how long raw events are kept, and the store's personal fields
#[utoipa::path(put, path = "/v1/stores/{store}/privacy", operation_id = "putPrivacy", tag = "privacy",
    params(StorePath), request_body = PrivacyPut, responses((status = 200, body = Privacy)))]
pub async fn put(
    scope: StoreScope,
    Valid(body): Valid<PrivacyPut>,
) -> Result<Json<Privacy>, ApiError> {
    let mut settings = {
        let mut conn = scope.conn().await?;
        stores::privacy(&mut conn, &scope.store).await?
    };
    if let Some(days) = body.events_retention_days {
        if days.is_some_and(|d| !(1..=36_500).contains(&d)) {
            return Err(ApiError::field(
                "events_retention_days",
                "must be 1 to 36500, or null to keep events for ever",
            ));
        }
        settings.events_retention_days = days;
    }
    if let Some(fields) = body.pii_fields {
        if fields.len() > 100 {
            return Err(ApiError::field("pii_fields", "must name at most 100 fields"));
        }
        if let Some(i) = fields.iter().position(|f| f.is_empty() || f.chars().count() > 64) {
            return Err(ApiError::field(
                &format!("pii_fields[{i}]"),
                "must be a field name of 1-64 characters",
            ));
        }
        settings.pii_fields = fields;
    }
    scope.pipeline.set_privacy(&scope.store, &settings).await?;
    Ok(Json(settings))
}

/// Who read customers' personal data, and how much
///
/// Every API read that returns profiles with an e-mail, phone, name or
/// birthday (a customer, a page of customers, an export) is counted per
/// credential and day.
#[utoipa::path(get, path = "/v1/stores/{store}/pii-reads", operation_id = "listPiiReads", tag = "privacy",
    params(StorePath), responses((status = 200, body = Vec<Reader>)))]
pub async fn reads(scope: StoreScope) -> Result<Json<Vec<Reader>>, ApiError> {
    let mut conn = scope.conn().await?;
    Ok(Json(pii_reads::readers(&mut conn, &scope.store, now_ms()).await?))
}
