//! Event intake. An event body is read by the domain's event parser
//! (`domain::event`), which knows every event type's `data` and names each
//! wrong field (`events[3].data.total_cents`); the schemas here document
//! the same rules, and a unit test holds the two together.

use std::time::Duration;

use super::params::ValidQuery;
use axum::body::Bytes;
use axum::extract::rejection::BytesRejection;
use axum::extract::Path;
use axum::http::StatusCode;
use axum::Json;
use serde::{Deserialize, Serialize};
use serde_json::Value;
use utoipa::ToSchema;

use super::auth::StoreScope;
use super::params::{StorePath, WaitQuery};
use super::{json_body, ApiError};
use crate::domain::event::{Envelope, Event};
use crate::pipeline::intake::EventResult;

/// How long `?wait=true` waits before answering with what is done.
const WAIT_LIMIT: Duration = Duration::from_secs(30);

/// One event. `(store, id)` is its idempotency key: a repeat is answered
/// as a duplicate and changes nothing. Its schema is one branch per
/// built-in type (`OrderPlacedEvent`, …) and `OtherEvent` for a type of the
/// shop's own, chosen by `type` (see `schema` below).
#[derive(Deserialize)]
#[serde(transparent)]
pub struct EventIn(Envelope);

/// Up to 1000 events, processed in order per customer.
#[derive(Deserialize, ToSchema)]
pub struct EventBatch {
    #[schema(min_items = 1, max_items = 1000)]
    pub events: Vec<EventIn>,
}

/// One event, or a batch.
#[derive(Deserialize, ToSchema)]
#[serde(untagged)]
#[allow(dead_code)] // the document's name for the body; `parse_batch` reads it
pub enum EventsRequest {
    Batch(EventBatch),
    One(EventIn),
}

/// The events were stored; they will be processed in order.
#[derive(Serialize, ToSchema)]
pub struct EventsAccepted {
    pub accepted: usize,
    pub duplicates: usize,
    pub events: Vec<EventReceipt>,
}

#[derive(Serialize, ToSchema)]
pub struct EventReceipt {
    pub event_id: String,
    /// `accepted` or `duplicate`.
    #[schema(example = "accepted")]
    pub status: &'static str,
}

/// What every install did with each event (`?wait=true`).
#[derive(Serialize, ToSchema)]
pub struct EventResults {
    pub results: Vec<EventResult>,
}

/// Where event `i` of a request is named in field paths: `events[i].` in
/// a batch, nothing for a single event.
fn prefix(batch: bool, i: usize) -> String {
    if batch {
        format!("events[{i}].")
    } else {
        String::new()
    }
}

/// The events of a request, and whether it was a batch. The document's
/// body is `oneOf` a batch and one event: it is the one whose schema it
/// matches; matching both or neither is an error (the errors of the one it
/// looks like: a batch when it has `events`).
fn parse_batch(body: &Value) -> Result<(Vec<Event>, bool), ApiError> {
    use super::valid::{errors, read};
    let as_batch = errors::<EventBatch>(body);
    let as_one = errors::<EventIn>(body);
    let (envelopes, batch) = match (as_batch.is_empty(), as_one.is_empty()) {
        (true, false) => (read::<EventBatch>(body.clone())?.events, true),
        (false, true) => (vec![read::<EventIn>(body.clone())?], false),
        (true, true) => {
            return Err(ApiError::field("events", "a body is one event or a batch, not both"))
        }
        (false, false) if body.get("events").is_some() => return Err(ApiError::invalid(as_batch)),
        (false, false) => return Err(ApiError::invalid(as_one)),
    };
    let mut events = Vec::with_capacity(envelopes.len());
    let mut errors = Vec::new();
    for (i, EventIn(envelope)) in envelopes.into_iter().enumerate() {
        match Event::new(envelope, &prefix(batch, i)) {
            Ok(e) => events.push(e),
            Err(mut errs) => errors.append(&mut errs),
        }
    }
    if errors.is_empty() {
        Ok((events, batch))
    } else {
        Err(ApiError::invalid(errors))
    }
}

/// One event read as intake reads it (for `plugin run` and `replay`).
pub fn parse_event(body: Value) -> Result<Event, ApiError> {
    let EventIn(envelope) = super::valid::parse::<EventIn>(body)?;
    Event::new(envelope, "").map_err(ApiError::invalid)
}

/// Ingest one event or a batch of up to 1000 (idempotent per id)
#[utoipa::path(post, path = "/v1/stores/{store}/events", operation_id = "postEvents", tag = "events",
    params(StorePath, WaitQuery), request_body = EventsRequest,
    responses(
        (status = 202, body = EventsAccepted, description = "Stored; processing follows"),
        (status = 200, body = EventResults, description = "With `?wait=true`: processed"),
    ))]
pub async fn post(
    scope: StoreScope,
    ValidQuery(q): ValidQuery<WaitQuery>,
    body: Result<Bytes, BytesRejection>,
) -> Result<(StatusCode, Json<Value>), ApiError> {
    let store = scope.store;
    let body = json_body(body)?;
    let (events, batch) = parse_batch(&body)?;
    let p = &scope.pipeline;
    p.check_survey_answers(&store, &events, |i| prefix(batch, i)).await?;
    let accepted = p.ingest(&store, &events).await?;
    if q.wait {
        p.wait_processed(&accepted, WAIT_LIMIT).await?;
        let results = p.results(&store, &accepted).await?;
        return Ok((StatusCode::OK, Json(to_json(EventResults { results }))));
    }
    let events = accepted
        .iter()
        .map(|a| EventReceipt {
            event_id: a.event_id.clone(),
            status: if a.duplicate { "duplicate" } else { "accepted" },
        })
        .collect();
    Ok((
        StatusCode::ACCEPTED,
        Json(to_json(EventsAccepted {
            accepted: accepted.iter().filter(|a| !a.duplicate).count(),
            duplicates: accepted.iter().filter(|a| a.duplicate).count(),
            events,
        })),
    ))
}

fn to_json(body: impl Serialize) -> Value {
    serde_json::to_value(body).expect("a response serializes")
}

#[derive(Deserialize, utoipa::IntoParams)]
#[into_params(parameter_in = Path)]
pub struct EventPath {
    /// The event's id.
    pub event: String,
}

/// One event: processed or pending, and the outcome of every install that ran on it
#[utoipa::path(get, path = "/v1/stores/{store}/events/{event}", operation_id = "getEvent", tag = "events",
    params(StorePath, EventPath), responses((status = 200, body = EventResult)))]
pub async fn get_one(
    scope: StoreScope,
    Path(path): Path<EventPath>,
) -> Result<Json<EventResult>, ApiError> {
    let (store, event) = (&scope.store, &path.event);
    match scope.pipeline.event_result(store, event).await? {
        Some(result) => Ok(Json(result)),
        None => Err(ApiError::not_found(format!("no event `{event}` in store `{store}`"))),
    }
}

#[derive(Deserialize, utoipa::IntoParams)]
#[into_params(parameter_in = Query)]
pub struct EventsQuery {
    /// Only events after this `seq` (the last one of the previous page).
    #[serde(default)]
    after: i64,
    /// Only events that occurred at or after this time (RFC 3339; empty: none).
    #[param(schema_with = super::schemas::since)]
    since: Option<String>,
    /// Events per page, 1 to 1000 (default 100).
    #[param(minimum = 1, maximum = 1000)]
    limit: Option<u32>,
}

/// An event as recorded, with the outcome of every install that ran on it.
#[derive(Serialize, ToSchema)]
pub struct EventRecord {
    /// Its place in the store's arrival order (page with `after`).
    pub seq: i64,
    pub id: String,
    #[serde(rename = "type")]
    pub event_type: String,
    pub customer_id: String,
    #[serde(serialize_with = "crate::domain::time::rfc3339")]
    #[schema(value_type = String, format = DateTime)]
    pub occurred_at: i64,
    #[schema(value_type = Object)]
    pub data: Value,
    #[serde(serialize_with = "crate::domain::time::rfc3339")]
    #[schema(value_type = String, format = DateTime)]
    pub received_at: i64,
    pub status: crate::domain::states::EventStatus,
    pub installs: Vec<crate::db::outcomes::Outcome>,
}

/// The store's events in arrival order, with their outcomes, paged
#[utoipa::path(get, path = "/v1/stores/{store}/events", operation_id = "listEvents", tag = "events",
    params(StorePath, EventsQuery), responses((status = 200, body = Vec<EventRecord>)))]
pub async fn list(
    scope: StoreScope,
    ValidQuery(q): ValidQuery<EventsQuery>,
) -> Result<Json<Vec<EventRecord>>, ApiError> {
    let limit = super::params::page_limit(q.limit)?;
    let since = super::params::since(q.since.as_deref())?.unwrap_or(i64::MIN);
    let mut conn = scope.conn().await?;
    let list = crate::db::events::recorded(&mut conn, &scope.store, q.after, since, limit).await?;
    let ids: Vec<&str> = list.iter().map(|r| r.event.id.as_str()).collect();
    let mut outcomes = crate::db::outcomes::for_events(&mut conn, &scope.store, &ids).await?;
    Ok(Json(
        list.iter()
            .map(|r| EventRecord {
                seq: r.seq,
                id: r.event.id.clone(),
                event_type: r.event.event_type.clone(),
                customer_id: r.event.customer_id.clone(),
                occurred_at: r.event.occurred_at,
                data: r.event.data.clone(),
                received_at: r.received_at,
                status: r.status,
                installs: outcomes.remove(&r.event.id).unwrap_or_default(),
            })
            .collect(),
    ))
}

#[cfg(test)]
mod tests {
    use super::*;
    use serde_json::json;

    /// The documented schema and the parser agree on what an event is.
    #[test]
    fn the_schema_accepts_what_the_parser_accepts() {
        let good = [
            json!({"id": "e1", "type": "order.placed", "customer_id": "c1",
                   "occurred_at": "2026-03-05T10:00:00Z",
                   "data": {"order_id": "o1", "total_cents": 100}}),
            json!({"id": "e2", "type": "checkin", "customer_id": "c1",
                   "occurred_at": "2026-03-05T10:00:00+08:00"}),
            json!({"events": [{"id": "e3", "type": "shop_visit.done", "customer_id": "c:1",
                   "occurred_at": "2026-03-05T10:00:00.5Z", "data": {}}]}),
        ];
        for body in good {
            parse_batch(&body).unwrap();
            super::super::valid::check("EventsRequest", &body).unwrap();
        }
        let bad = [
            json!({"id": "e1", "type": "Weird Type", "customer_id": "c1",
                   "occurred_at": "2026-03-05T10:00:00Z"}),
            json!({"id": "e1", "type": "checkin", "customer_id": "c1",
                   "occurred_at": "2026-03-05"}),
            json!({"id": "e1", "type": "checkin", "occurred_at": "2026-03-05T10:00:00Z"}),
            json!({"events": []}),
        ];
        for body in bad {
            assert!(parse_batch(&body).is_err(), "{body}");
            assert!(super::super::valid::check("EventsRequest", &body).is_err(), "{body}");
        }
    }
}
