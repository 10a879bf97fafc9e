//! Conversions between the host's domain types and the WIT types.

use super::bindings::point_rules::exports::clientele::crm::loyalty;
use super::bindings::types;
use crate::domain::customer::Customer;
use crate::domain::event::{Event, EventKind};
use crate::domain::ledger::LedgerOp;

pub fn customer(c: &Customer) -> types::Customer {
    types::Customer {
        id: c.id.clone(),
        email: c.email.clone(),
        phone: c.phone.clone(),
        name: c.name.clone(),
        birthday: c.birthday.clone(),
        tags: c.tags.clone(),
        attributes: if c.attributes.is_null() {
            "{}".to_string()
        } else {
            c.attributes.to_string()
        },
        tier: c.tier.clone(),
        points_balance: c.points_balance,
        stats: types::CustomerStats {
            orders: c.stats.orders,
            repeat_days: c.stats.repeat_days,
            net_spend_cents: c.stats.net_spend_cents,
            first_order_at: c.stats.first_order_at,
            last_order_at: c.stats.last_order_at,
        },
    }
}

/// `order_total` is the refunded order's total when the host knows it.
pub fn event(e: &Event, order_total: Option<i64>) -> types::Event {
    let kind = match &e.kind {
        EventKind::CustomerCreated => types::EventKind::CustomerCreated,
        EventKind::Checkin => types::EventKind::Checkin,
        EventKind::Other => types::EventKind::Other,
        EventKind::OrderPlaced {
            order_id,
            total_cents,
            currency,
            items,
        } => types::EventKind::OrderPlaced(types::OrderPlaced {
            order_id: order_id.clone(),
            total_cents: *total_cents,
            currency: currency.clone(),
            items: items
                .iter()
                .map(|i| types::OrderItem {
                    sku: i.sku.clone(),
                    category: i.category.clone(),
                    qty: i.qty,
                    price_cents: i.price_cents,
                })
                .collect(),
        }),
        EventKind::OrderRefunded {
            order_id,
            refund_cents,
        } => types::EventKind::OrderRefunded(types::OrderRefunded {
            order_id: order_id.clone(),
            refund_cents: *refund_cents,
            order_total_cents: order_total,
        }),
        EventKind::ReviewSubmitted {
            order_id,
            rating,
            has_photo,
            text_length,
        } => types::EventKind::ReviewSubmitted(types::ReviewSubmitted {
            order_id: order_id.clone(),
            rating: *rating,
            has_photo: *has_photo,
            text_length: *text_length,
        }),
        EventKind::ReferralConverted {
            referred_customer_id,
        } => types::EventKind::ReferralConverted(types::ReferralConverted {
            referred_customer_id: referred_customer_id.clone(),
        }),
        EventKind::SurveySubmitted { survey_id, answers } => {
            types::EventKind::SurveySubmitted(types::SurveySubmitted {
                survey_id: survey_id.clone(),
                answers: answers.to_string(),
            })
        }
    };
    types::Event {
        id: e.id.clone(),
        type_: e.event_type.clone(),
        customer_id: e.customer_id.clone(),
        occurred_at: e.occurred_at,
        data: e.data.to_string(),
        kind,
    }
}

pub fn ledger_op(op: loyalty::LedgerOp) -> LedgerOp {
    match op {
        loyalty::LedgerOp::Earn(e) => LedgerOp::Earn {
            points: e.points,
            reason: e.reason,
            expires_at: e.expires_at,
        },
        loyalty::LedgerOp::Deduct(d) => LedgerOp::Deduct {
            points: d.points,
            reason: d.reason,
        },
        loyalty::LedgerOp::SetTier(tier) => LedgerOp::SetTier { tier },
    }
}
