//! A `point-rules` plugin built from the frozen contract folder
//! `wit/since_v0.1.0`, never from the live one: it must keep running
//! unchanged when the host serves newer contracts. It calls every import
//! the world has, so a change to any of them breaks its test:
//! - earns 1 point per full 100 cents of an order, reason `v0.1.0`;
//! - counts orders in its `state` and sets tier `regular` at the third;
//! - reads the customer, balance and orders back through `customers`;
//! - sends a `welcome` message on the first order and logs each decision.

wit_bindgen::generate!({
    path: "../../../wit/since_v0.1.0",
    world: "point-rules",
});

use clientele::crm::types::{Customer, Event, EventKind};
use clientele::crm::{customers, log, messaging, state};
use exports::clientele::crm::loyalty::{Earn, Guest, LedgerOp};

#[cfg_attr(not(target_arch = "wasm32"), allow(dead_code))]
struct Frozen;

impl Guest for Frozen {
    fn on_event(
        _config: String,
        customer: Customer,
        event: Event,
    ) -> Result<Vec<LedgerOp>, String> {
        let EventKind::OrderPlaced(order) = event.kind else {
            return Ok(Vec::new());
        };
        let key = format!("orders:{}", customer.id);
        let seen = state::get(&key)
            .map(|b| u32::from_le_bytes(b.try_into().unwrap_or([0; 4])))
            .unwrap_or(0)
            + 1;
        state::set(&key, &seen.to_le_bytes())?;
        let known = customers::get(&customer.id).ok_or("the host does not know the customer")?;
        let balance = customers::points_balance(&customer.id);
        let orders = customers::orders(&customer.id, 10);
        if known.id != customer.id || balance != customer.points_balance || orders.is_empty() {
            return Err(format!(
                "the host disagrees with itself: {balance} vs {}, {} orders",
                customer.points_balance,
                orders.len()
            ));
        }
        let mut ops = vec![LedgerOp::Earn(Earn {
            points: order.total_cents / 100,
            reason: "v0.1.0".into(),
            expires_at: None,
        })];
        if seen == 1 {
            messaging::send("email", &customer.id, "welcome", "{}")?;
        }
        if seen == 3 {
            ops.push(LedgerOp::SetTier(Some("regular".into())));
        }
        log::write(
            log::Level::Info,
            &format!("order {} is order {seen} of {}", order.order_id, customer.id),
        );
        Ok(ops.into_iter().filter(|op| !matches!(op, LedgerOp::Earn(e) if e.points < 1)).collect())
    }
}

export!(Frozen);
