//! `points-basic`: the classic loyalty rules (fixed or tiered conversion,
//! member tiers, first-order bonus, birthday month, reviews, check-ins,
//! referrals, refund reversal and expiry) as a `point-rules` component of
//! contract 0.6.0: what a refund takes back is read from the install's own
//! ledger entries for the order (`order-ledger`), so a customer's memory
//! holds no key per order.

pub mod rules;

wit_bindgen::generate!({
    path: "../../wit/since_v0.6.0",
    world: "point-rules",
});

use clientele::crm::types::{Customer, Event, EventKind, PluginError, StoreContext};
use clientele::crm::{order_ledger, state};
use exports::clientele::crm::loyalty::{Deduct, Earn, Guest, LedgerOp};

struct Host;

impl rules::Host for Host {
    fn get(&self, key: &str) -> Option<Vec<u8>> {
        state::get(key)
    }
    fn set(&mut self, key: &str, value: Vec<u8>) {
        // The host caps state per customer; past that we forget, which at
        // worst lets a repeated review earn again.
        let _ = state::set(key, &value);
    }
    fn earned_on(&self, order_id: &str) -> Vec<(String, i64)> {
        order_ledger::of_order(order_id).earned.into_iter().map(|e| (e.reason, e.points)).collect()
    }
}

#[cfg_attr(not(target_arch = "wasm32"), allow(dead_code))]
struct PointsBasic;

impl Guest for PointsBasic {
    fn on_event(
        _ctx: StoreContext,
        config: String,
        customer: Customer,
        event: Event,
    ) -> Result<Vec<LedgerOp>, PluginError> {
        // The rules count days in UTC (birthday month, check-in cap), as
        // the method defines them, whatever the store's time zone.
        let cfg: rules::Config = serde_json::from_str(&config).map_err(|e| PluginError {
            code: "invalid-config".into(),
            message: format!("invalid config: {e}"),
            retryable: false,
        })?;
        let c = rules::Customer {
            tier: customer.tier,
            birthday: customer.birthday,
            orders: customer.stats.orders,
            net_spend_cents: customer.stats.net_spend_cents,
        };
        let e = match event.kind {
            EventKind::OrderPlaced(o) => {
                rules::Event::Order { order_id: o.order_id, total_cents: o.total_cents }
            }
            EventKind::OrderRefunded(r) => rules::Event::Refund {
                order_id: r.order_id,
                refund_cents: r.refund_cents,
                order_total_cents: r.order_total_cents,
            },
            EventKind::ReviewSubmitted(r) => {
                rules::Event::Review { order_id: r.order_id, has_photo: r.has_photo }
            }
            EventKind::Checkin => rules::Event::Checkin,
            EventKind::ReferralConverted(_) => rules::Event::Referral,
            _ => rules::Event::Other,
        };
        let ops = rules::on_event(&cfg, &c, &e, event.occurred_at, &mut Host);
        Ok(ops
            .into_iter()
            .map(|op| match op {
                rules::Op::Earn { points, reason, expires_at } => {
                    LedgerOp::Earn(Earn { points, reason: reason.to_string(), expires_at })
                }
                rules::Op::Deduct { points, reason } => {
                    LedgerOp::Deduct(Deduct { points, reason: reason.to_string() })
                }
                rules::Op::SetTier(t) => LedgerOp::SetTier(t),
            })
            .collect())
    }
}

// Exported only when built as a component; natively this crate is just
// its rules, for unit tests.
#[cfg(target_arch = "wasm32")]
export!(PointsBasic);
