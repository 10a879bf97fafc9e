//! Customers as the host keeps them.

use serde::{Deserialize, Serialize};
use serde_json::Value;

use super::time::Millis;

#[derive(Debug, Clone, Default, PartialEq, Serialize, Deserialize)]
pub struct CustomerStats {
    pub orders: u32,
    pub repeat_days: u32,
    pub net_spend_cents: i64,
    pub first_order_at: Option<Millis>,
    pub last_order_at: Option<Millis>,
}

#[derive(Debug, Clone, Default, PartialEq)]
pub struct Customer {
    pub id: String,
    pub email: Option<String>,
    pub phone: Option<String>,
    pub name: Option<String>,
    /// `YYYY-MM-DD`
    pub birthday: Option<String>,
    pub tags: Vec<String>,
    pub attributes: Value,
    pub tier: Option<String>,
    pub points_balance: i64,
    pub stats: CustomerStats,
}

/// What the host hands a plugin about a customer that changes with their
/// events — tier, balance, statistics — as it stood when one event was
/// first decided. Kept with a failed call, so that its retry or re-drive
/// decides the event as it happened, whatever later events changed since.
#[derive(Debug, Clone, Default, PartialEq, Serialize, Deserialize)]
pub struct AsOfEvent {
    pub tier: Option<String>,
    pub points_balance: i64,
    pub stats: CustomerStats,
}

impl AsOfEvent {
    pub fn of(c: &Customer) -> AsOfEvent {
        AsOfEvent { tier: c.tier.clone(), points_balance: c.points_balance, stats: c.stats.clone() }
    }

    /// The customer as they are now (their profile), with what changes
    /// with their events as it stood then.
    pub fn applied_to(&self, c: &Customer) -> Customer {
        Customer {
            tier: self.tier.clone(),
            points_balance: self.points_balance,
            stats: self.stats.clone(),
            ..c.clone()
        }
    }
}

#[derive(Debug, Clone, PartialEq)]
pub struct Order {
    pub order_id: String,
    pub total_cents: i64,
    pub currency: String,
    pub placed_at: Millis,
    pub refunded_cents: i64,
}
