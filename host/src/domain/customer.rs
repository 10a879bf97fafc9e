//! Customers as the host keeps them.

use serde::Serialize;
use serde_json::Value;

use super::time::Millis;

#[derive(Debug, Clone, Default, PartialEq, Serialize)]
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

#[derive(Debug, Clone, PartialEq)]
pub struct Order {
    pub order_id: String,
    pub total_cents: i64,
    pub currency: String,
    pub placed_at: Millis,
    pub refunded_cents: i64,
}
