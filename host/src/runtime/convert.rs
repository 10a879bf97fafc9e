//! Conversions between the host's domain types and the WIT types.

use super::bindings::point_rules::exports::clientele::crm::loyalty;
use super::bindings::types;
use crate::domain::customer::Customer;
use crate::domain::event::{self, Event, EventKind};
use crate::domain::ledger::LedgerOp;

/// The customer as a plugin sees them: their personal data (e-mail,
/// phone, name, birthday) only with `pii` (the install's granted scope).
pub fn customer(c: &Customer, pii: bool) -> types::Customer {
    let personal = |v: &Option<String>| if pii { v.clone() } else { None };
    types::Customer {
        id: c.id.clone(),
        email: personal(&c.email),
        phone: personal(&c.phone),
        name: personal(&c.name),
        birthday: personal(&c.birthday),
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
        EventKind::CustomerCreated(_) => types::EventKind::CustomerCreated,
        EventKind::Checkin(_) => types::EventKind::Checkin,
        // The event kinds of every contract are one record shared by all
        // rungs; complaints came later and are read through the
        // `complaints` interface (0.5.0) by the complaint's id.
        EventKind::Other | EventKind::ComplaintFiled(_) | EventKind::ComplaintResolved(_) => {
            types::EventKind::Other
        }
        EventKind::OrderPlaced(event::OrderPlaced { order_id, total_cents, currency, items }) => {
            types::EventKind::OrderPlaced(types::OrderPlaced {
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
            })
        }
        EventKind::OrderRefunded(event::OrderRefunded { order_id, refund_cents }) => {
            types::EventKind::OrderRefunded(types::OrderRefunded {
                order_id: order_id.clone(),
                refund_cents: *refund_cents,
                order_total_cents: order_total,
            })
        }
        EventKind::ReviewSubmitted(event::ReviewSubmitted {
            order_id,
            rating,
            has_photo,
            text_length,
        }) => types::EventKind::ReviewSubmitted(types::ReviewSubmitted {
            order_id: order_id.clone(),
            rating: *rating,
            has_photo: *has_photo,
            text_length: *text_length,
        }),
        EventKind::ReferralConverted(event::ReferralConverted { referred_customer_id }) => {
            types::EventKind::ReferralConverted(types::ReferralConverted {
                referred_customer_id: referred_customer_id.clone(),
            })
        }
        EventKind::SurveySubmitted(event::SurveySubmitted { survey_id, answers }) => {
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
        data: e.data_json.clone(),
        kind,
    }
}

pub fn ledger_op(op: loyalty::LedgerOp) -> LedgerOp {
    match op {
        loyalty::LedgerOp::Earn(e) => {
            LedgerOp::Earn { points: e.points, reason: e.reason, expires_at: e.expires_at }
        }
        loyalty::LedgerOp::Deduct(d) => LedgerOp::Deduct { points: d.points, reason: d.reason },
        loyalty::LedgerOp::SetTier(tier) => LedgerOp::SetTier { tier },
    }
}

fn json_or_invalid(text: &str, what: &str) -> Result<serde_json::Value, String> {
    serde_json::from_str(text).map_err(|e| format!("{what} is not valid JSON: {e}"))
}

pub fn memberships(
    list: Vec<super::segmentation::Membership>,
) -> Result<Vec<crate::domain::segment::Membership>, String> {
    list.into_iter()
        .map(|m| {
            Ok(crate::domain::segment::Membership {
                attributes: json_or_invalid(&m.attributes, "membership attributes")?,
                segment: m.segment,
            })
        })
        .collect()
}

pub fn assessment(
    a: super::rescue::Assessment,
) -> Result<crate::domain::rescue::Assessment, String> {
    Ok(crate::domain::rescue::Assessment {
        p_alive: a.p_alive,
        risk: a.risk,
        value_cents: a.value_cents,
        details: json_or_invalid(&a.details, "assessment details")?,
    })
}

pub fn wit_assessment(a: &crate::domain::rescue::Assessment) -> super::rescue::Assessment {
    super::rescue::Assessment {
        p_alive: a.p_alive,
        risk: a.risk,
        value_cents: a.value_cents,
        details: a.details.to_string(),
    }
}

pub fn actions(
    list: Vec<super::rescue::Action>,
) -> Result<Vec<crate::domain::rescue::FlowAction>, String> {
    use super::rescue::{Action, FlowEnd as W};
    use crate::domain::rescue::{FlowAction, FlowEnd};
    list.into_iter()
        .map(|a| {
            Ok(match a {
                Action::SendMessage(m) => FlowAction::Send {
                    vars: json_or_invalid(&m.vars, "message vars")?,
                    channel: m.channel,
                    template: m.template,
                },
                Action::GrantPoints((points, reason)) => FlowAction::GrantPoints { points, reason },
                Action::GrantCoupon(pct) => FlowAction::Coupon(pct),
                Action::Schedule((after_seconds, step)) => {
                    FlowAction::Schedule { after_seconds, step }
                }
                Action::EndFlow(end) => FlowAction::End(match end {
                    W::Rescued => FlowEnd::Rescued,
                    W::Expired => FlowEnd::Expired,
                    W::Skipped => FlowEnd::Skipped,
                }),
            })
        })
        .collect()
}

/// A responder's actions in the host's types.
pub fn reactions(
    list: Vec<super::reactions::Action>,
) -> Result<Vec<crate::domain::reaction::Reaction>, String> {
    use super::reactions::Action;
    use crate::domain::reaction::Reaction;
    list.into_iter()
        .map(|a| {
            Ok(match a {
                Action::SendMessage(m) => Reaction::SendMessage {
                    vars: json_or_invalid(&m.vars, "message vars")?,
                    channel: m.channel,
                    template: m.template,
                },
                Action::GrantPoints((points, reason)) => Reaction::GrantPoints { points, reason },
                Action::SetTimer(t) => Reaction::SetTimer {
                    payload: json_or_invalid(&t.payload, "timer payload")?,
                    key: t.key,
                    at: t.at,
                },
                Action::CancelTimer(key) => Reaction::CancelTimer { key },
                Action::SetComplaintDue((complaint_id, at)) => {
                    Reaction::SetComplaintDue { complaint_id, at }
                }
            })
        })
        .collect()
}
