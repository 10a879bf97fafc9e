//! A `point-rules` plugin of `clientele:crm@0.2.0`, for the tests of what
//! that version added:
//! - `{"mode": "ok"}` (the default): an order earns 1 point, its reason
//!   the store context the host handed over:
//!   `<store> <currency> <timezone> <utc-offset-minutes> <at>`;
//! - `{"mode": "error"}`: fails with code `out-of-stock`, not retryable;
//! - `{"mode": "retry"}`: fails with code `upstream-busy`, retryable.

wit_bindgen::generate!({
    path: "../../../wit/since_v0.2.0",
    world: "point-rules",
});

use clientele::crm::types::{Customer, Event, EventKind, PluginError, StoreContext};
use exports::clientele::crm::loyalty::{Earn, Guest, LedgerOp};

#[cfg_attr(not(target_arch = "wasm32"), allow(dead_code))]
struct Context;

impl Guest for Context {
    fn on_event(
        ctx: StoreContext,
        config: String,
        _customer: Customer,
        event: Event,
    ) -> Result<Vec<LedgerOp>, PluginError> {
        let EventKind::OrderPlaced(order) = event.kind else {
            return Ok(Vec::new());
        };
        let failure = |code: &str, retryable| PluginError {
            code: code.into(),
            message: format!("cannot handle order {}", order.order_id),
            retryable,
        };
        if config.contains("\"error\"") {
            return Err(failure("out-of-stock", false));
        }
        if config.contains("\"retry\"") {
            return Err(failure("upstream-busy", true));
        }
        Ok(vec![LedgerOp::Earn(Earn {
            points: 1,
            reason: format!(
                "{} {} {} {} {}",
                ctx.store_id, ctx.currency, ctx.timezone, ctx.utc_offset_minutes, ctx.at
            ),
            expires_at: None,
        })])
    }
}

#[cfg(target_arch = "wasm32")]
export!(Context);
