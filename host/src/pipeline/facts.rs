//! What a batch's events say by themselves, recorded before any plugin
//! sees them: the customers exist, orders and refunds are counted (and
//! new orders counted in the store's retention activity), survey
//! responses are kept (a scorer adds its score later), complaints are
//! filed and resolved, and points past their expiry are expired. Each step is idempotent, so a replay of the
//! batch records nothing twice.

use crate::db::complaints::{self, Filing, Resolution};
use crate::db::events::StoredEvent;
use crate::db::surveys::NewResponse;
use crate::db::{activity, customers, ledger, stores, surveys, DbResult, Tx};
use crate::domain::event::{self, EventKind};
use crate::domain::time::Millis;

/// What recording left for the phases after it.
pub struct Recorded {
    /// The batch's customers, once each, sorted.
    pub customers: Vec<String>,
    /// Per event: the refunded order's total, for `order.refunded`.
    pub order_totals: Vec<Option<i64>>,
}

pub async fn record(
    tx: &mut Tx,
    store: &str,
    batch: &[StoredEvent],
    now: Millis,
) -> DbResult<Recorded> {
    let mut ids: Vec<&str> = batch.iter().map(|ev| ev.event.customer_id.as_str()).collect();
    ids.sort_unstable();
    ids.dedup();
    customers::ensure_many(tx, store, &ids, now).await?;
    let mut order_totals = vec![None; batch.len()];
    let mut orders = Vec::new();
    let mut responses = Vec::new();
    let (mut filings, mut resolutions) = (Vec::new(), Vec::new());
    for (i, ev) in batch.iter().enumerate() {
        let e = &ev.event;
        match &e.kind {
            EventKind::OrderPlaced(event::OrderPlaced {
                order_id, total_cents, currency, ..
            }) => orders.push(customers::NewOrder {
                customer: &e.customer_id,
                order_id,
                total_cents: *total_cents,
                currency,
                placed_at: e.occurred_at,
            }),
            EventKind::OrderRefunded(event::OrderRefunded { order_id, refund_cents }) => {
                order_totals[i] = customers::record_refund(
                    tx,
                    store,
                    &e.id,
                    &e.customer_id,
                    order_id,
                    *refund_cents,
                    e.occurred_at,
                )
                .await?;
            }
            EventKind::SurveySubmitted(event::SurveySubmitted { survey_id, answers }) => responses
                .push(NewResponse {
                    survey_id,
                    event_id: &e.id,
                    customer: &e.customer_id,
                    submitted_at: e.occurred_at,
                    answers: answers.to_string(),
                }),
            EventKind::ComplaintFiled(filed) => filings.push(Filing {
                event_id: &e.id,
                customer: &e.customer_id,
                filed,
                at: e.occurred_at,
            }),
            EventKind::ComplaintResolved(resolved) => resolutions.push(Resolution {
                event_id: &e.id,
                customer: &e.customer_id,
                resolved,
                at: e.occurred_at,
            }),
            _ => {}
        }
    }
    let new_orders = customers::record_orders(tx, store, &orders).await?;
    let timezone = if new_orders.is_empty() && filings.is_empty() {
        String::new()
    } else {
        stores::get(tx, store).await?.map(|s| s.timezone).unwrap_or_default()
    };
    let counted: Vec<activity::Ordered> = orders
        .iter()
        .filter(|o| new_orders.contains(o.order_id))
        .map(|o| activity::Ordered {
            customer: o.customer,
            total_cents: o.total_cents,
            placed_at: o.placed_at,
        })
        .collect();
    activity::record(tx, store, &timezone, &counted).await?;
    surveys::record_responses(tx, store, &responses).await?;
    complaints::record(tx, store, &timezone, &filings, &resolutions).await?;
    for customer in ledger::due_among(tx, store, &ids, now).await? {
        ledger::expire_customer(tx, store, &customer, now).await?;
    }
    Ok(Recorded { customers: ids.into_iter().map(str::to_string).collect(), order_totals })
}
