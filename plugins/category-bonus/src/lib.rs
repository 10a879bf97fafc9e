//! `category-bonus`: a campaign of contract 0.5.0, installed on top of a
//! store's base point rules (`"campaign": {…}` on the install). Its
//! category's items earn (n − 1)× more on the store's local days from
//! `from` to `to`; a refund of an order takes back, of what the order
//! earned from this campaign (the host answers that:
//! `earnings.earned-for-order`), the refund's share — all of it once the
//! order is refunded in full. It keeps no state.

pub mod bonus;

wit_bindgen::generate!({
    path: "../../wit/since_v0.5.0",
    world: "point-rules",
});

use bonus::{local_day, taken_back, Config};
use clientele::crm::types::{Customer, Event, EventKind, PluginError, StoreContext};
use clientele::crm::{customers, earnings};
use exports::clientele::crm::loyalty::{Deduct, Earn, Guest, LedgerOp};

#[cfg_attr(not(target_arch = "wasm32"), allow(dead_code))]
struct CategoryBonus;

impl Guest for CategoryBonus {
    fn on_event(
        ctx: StoreContext,
        config: String,
        customer: Customer,
        event: Event,
    ) -> Result<Vec<LedgerOp>, PluginError> {
        let config: Config = serde_json::from_str(&config).map_err(|e| PluginError {
            code: "config".into(),
            message: format!("the config cannot be read: {e}"),
            retryable: false,
        })?;
        Ok(match event.kind {
            EventKind::OrderPlaced(order) => {
                if !config.runs_on(local_day(event.occurred_at, ctx.utc_offset_minutes)) {
                    return Ok(vec![]);
                }
                let items =
                    order.items.iter().map(|i| (i.qty, i.price_cents, i.category.as_deref()));
                let points = config.bonus(items);
                if points <= 0 {
                    return Ok(vec![]);
                }
                let reason = format!("{}× on {}", config.multiplier, config.category);
                vec![LedgerOp::Earn(Earn { points, reason, expires_at: None })]
            }
            EventKind::OrderRefunded(refund) => {
                let earned = earnings::earned_for_order(&refund.order_id);
                if earned <= 0 {
                    return Ok(vec![]);
                }
                // What of the order was left before this refund.
                let total = refund.order_total_cents.unwrap_or(refund.refund_cents);
                let refunded_before = customers::orders(&customer.id, 100)
                    .into_iter()
                    .find(|o| o.order_id == refund.order_id)
                    .map_or(0, |o| (o.refunded_cents - refund.refund_cents).max(0));
                let points = taken_back(earned, refund.refund_cents, total - refunded_before);
                if points <= 0 {
                    return Ok(vec![]);
                }
                let reason = format!("refund of {}", refund.order_id);
                vec![LedgerOp::Deduct(Deduct { points, reason })]
            }
            _ => vec![],
        })
    }
}

#[cfg(target_arch = "wasm32")]
export!(CategoryBonus);
