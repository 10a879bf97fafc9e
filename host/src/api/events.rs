use std::time::Duration;

use axum::body::Bytes;
use axum::extract::rejection::BytesRejection;
use axum::extract::{Path, Query, State};
use axum::http::StatusCode;
use axum::Json;
use serde::Deserialize;
use serde_json::{json, Value};

use super::auth::Caller;
use super::{json_body, ApiError, AppState};
use crate::domain::event::{parse_event, Event};

/// Most events in one request.
pub const MAX_BATCH: usize = 1000;
/// How long `?wait=true` waits before answering with what is done.
const WAIT_LIMIT: Duration = Duration::from_secs(30);

#[derive(Deserialize)]
pub struct WaitQuery {
    #[serde(default)]
    wait: bool,
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

/// The events of a request, and whether it was a batch.
fn parse_batch(body: &Value) -> Result<(Vec<Event>, bool), ApiError> {
    let (items, batch): (Vec<&Value>, bool) = match body.get("events") {
        Some(Value::Array(list)) => {
            if list.len() > MAX_BATCH {
                return Err(ApiError::field(
                    "events",
                    format!("has {} events; at most {MAX_BATCH} per request", list.len()),
                ));
            }
            if list.is_empty() {
                return Err(ApiError::field("events", "must hold at least one event"));
            }
            (list.iter().collect(), true)
        }
        Some(_) => return Err(ApiError::field("events", "must be a list of events")),
        None => (vec![body], false),
    };
    let mut events = Vec::with_capacity(items.len());
    let mut errors = Vec::new();
    for (i, item) in items.iter().enumerate() {
        match parse_event(item, &prefix(batch, i)) {
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

pub async fn post(
    State(state): State<AppState>,
    caller: Caller,
    Path(store): Path<String>,
    Query(q): Query<WaitQuery>,
    body: Result<Bytes, BytesRejection>,
) -> Result<(StatusCode, Json<Value>), ApiError> {
    caller.require_store(&state, &store).await?;
    let body = json_body(body)?;
    let (events, batch) = parse_batch(&body)?;
    let p = &state.pipeline;
    p.check_survey_answers(&store, &events, |i| prefix(batch, i))
        .await?;
    let accepted = p.ingest(&store, &events).await?;
    if q.wait {
        p.wait_processed(&accepted, WAIT_LIMIT).await?;
        let results = p.results(&store, &accepted).await?;
        return Ok((StatusCode::OK, Json(json!({ "results": results }))));
    }
    let list: Vec<Value> = accepted
        .iter()
        .map(|a| json!({"event_id": a.event_id, "status": if a.duplicate {"duplicate"} else {"accepted"}}))
        .collect();
    Ok((
        StatusCode::ACCEPTED,
        Json(json!({
            "accepted": accepted.iter().filter(|a| !a.duplicate).count(),
            "duplicates": accepted.iter().filter(|a| a.duplicate).count(),
            "events": list,
        })),
    ))
}

/// One event: whether it was processed, and what every install did.
pub async fn get_one(
    State(state): State<AppState>,
    caller: Caller,
    Path((store, event)): Path<(String, String)>,
) -> Result<Json<Value>, ApiError> {
    caller.require_store(&state, &store).await?;
    match state.pipeline.event_result(&store, &event).await? {
        Some(result) => Ok(Json(json!(result))),
        None => Err(ApiError::not_found(format!(
            "no event `{event}` in store `{store}`"
        ))),
    }
}
