//! Campaigns: point-rules installs that run on top of the store's base
//! rules for a season (double points on tea this weekend). A campaign
//! decides on the same events as the base install, independently, but may
//! only earn: it sets no tier, and deducts only on a refund, at most what
//! it earned for that order. The host enforces its window and budgets.

use serde::{Deserialize, Serialize};

use super::event::{Event, EventKind};
use super::ledger::LedgerOp;
use super::time::Millis;

/// A campaign install's terms.
#[derive(Debug, Clone, Default, PartialEq, Serialize, Deserialize)]
pub struct Campaign {
    /// How the campaign is shown in the ledger and its report (the install
    /// id when left out).
    pub name: Option<String>,
    /// Events that occurred from this instant on …
    pub active_from: Option<Millis>,
    /// … and before this one are the campaign's (refunds always are: they
    /// take back what it earned).
    pub active_to: Option<Millis>,
    /// Points it may issue in all, net of what refunds took back.
    pub budget_points: Option<i64>,
    /// Points it may issue to one customer, net of refunds.
    pub budget_per_customer: Option<i64>,
}

impl Campaign {
    /// Whether the event is the campaign's business.
    pub fn covers(&self, e: &Event) -> bool {
        if matches!(e.kind, EventKind::OrderRefunded(_)) {
            return true;
        }
        self.active_from.is_none_or(|from| e.occurred_at >= from)
            && self.active_to.is_none_or(|to| e.occurred_at < to)
    }

    /// Whether the window holds `at`.
    pub fn active_at(&self, at: Millis) -> bool {
        self.active_from.is_none_or(|from| at >= from) && self.active_to.is_none_or(|to| at < to)
    }

    /// A campaign's decision may only earn, and deduct on a refund.
    pub fn check_ops(ops: &[LedgerOp], e: &Event) -> Result<(), String> {
        for op in ops {
            match op {
                LedgerOp::Earn { .. } => {}
                LedgerOp::Deduct { .. } if matches!(e.kind, EventKind::OrderRefunded(_)) => {}
                LedgerOp::Deduct { .. } => {
                    return Err("a campaign deducts only on an order.refunded event (what it \
                                earned for that order); this call deducted on a "
                        .to_string()
                        + &e.event_type)
                }
                LedgerOp::SetTier { .. } => {
                    return Err("a campaign may not set tiers: the store's base point-rules \
                                install does"
                        .into())
                }
            }
        }
        Ok(())
    }

    /// The terms' own consistency.
    pub fn validate(&self) -> Result<(), (&'static str, String)> {
        if let (Some(from), Some(to)) = (self.active_from, self.active_to) {
            if to <= from {
                return Err(("campaign.active_to", "must be after active_from".into()));
            }
        }
        if let Some(name) = &self.name {
            if name.is_empty() || name.chars().count() > 64 {
                return Err(("campaign.name", "must be 1 to 64 characters".into()));
            }
        }
        for (field, v) in [
            ("campaign.budget_points", self.budget_points),
            ("campaign.budget_per_customer", self.budget_per_customer),
        ] {
            if v.is_some_and(|v| !(1..=1_000_000_000_000).contains(&v)) {
                return Err((field, "must be 1 to 1e12".into()));
            }
        }
        Ok(())
    }
}
