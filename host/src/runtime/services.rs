//! What the host's import functions need from the rest of the service.
//! The runtime only knows this trait; the pipeline implements it over the
//! database. Every method is scoped to one store by its first argument,
//! which the runtime fills in from the install, never from the guest.
//!
//! The methods are async so that a host function can wait for them within
//! its call's deadline and no longer (see `CallCtx::answer`).
//! A failure is the host's, not the plugin's: the call fails with
//! `host_error` and nothing of it is applied, rather than the plugin
//! deciding on an empty answer.

use std::future::Future;
use std::pin::Pin;

use std::collections::HashMap;

use crate::domain::customer::{Customer, Order};
use crate::domain::ledger::OrderEntries;
use crate::domain::time::Millis;

/// A host service's answer, or why the host could not give one.
pub type HostFuture<'a, T> = Pin<Box<dyn Future<Output = Result<T, String>> + Send + 'a>>;

/// The store a call is for, as a plugin of 0.2.0 or later sees it.
#[derive(Debug, Clone, PartialEq)]
pub struct StoreInfo {
    pub id: String,
    /// ISO 4217.
    pub currency: String,
    /// IANA time zone.
    pub timezone: String,
}

impl StoreInfo {
    /// A store of `id` in US dollars on UTC, for runs without a store.
    pub fn plain(id: &str) -> StoreInfo {
        StoreInfo { id: id.to_string(), currency: "USD".into(), timezone: "UTC".into() }
    }
}

/// One key of an install's state for a customer, as stored, and the bytes
/// (keys and values) that customer's state of the install holds in all.
#[derive(Debug, Clone, Default, PartialEq)]
pub struct StoredKey {
    pub value: Option<Vec<u8>>,
    pub bytes: usize,
}

pub trait HostServices: Send + Sync {
    /// The store's currency and time zone.
    fn store<'a>(&'a self, store: &'a str) -> HostFuture<'a, StoreInfo>;
    fn customer<'a>(
        &'a self,
        store: &'a str,
        customer: &'a str,
    ) -> HostFuture<'a, Option<Customer>>;
    fn orders<'a>(
        &'a self,
        store: &'a str,
        customer: &'a str,
        limit: u32,
    ) -> HostFuture<'a, Vec<Order>>;
    fn points_balance<'a>(&'a self, store: &'a str, customer: &'a str) -> HostFuture<'a, i64>;
    /// The `state` capability's stored `key` of `install` for `customer`,
    /// read when a call first asks for it (a customer's state grows with
    /// their history; a call reads a key or two of it).
    fn state_key<'a>(
        &'a self,
        install: &'a str,
        customer: &'a str,
        key: &'a str,
    ) -> HostFuture<'a, StoredKey>;

    // New in contract 0.3.0. Answering nothing is a valid answer for a
    // host without store data (a benchmark, a local run without one).

    /// Each customer's net spend on orders placed in `(as_of − days,
    /// as_of]`, less those orders' refunds up to `as_of` (customers with
    /// none left out).
    fn spend_within<'a>(
        &'a self,
        _store: &'a str,
        _as_of: Millis,
        _days: u32,
    ) -> HostFuture<'a, HashMap<String, i64>> {
        Box::pin(async { Ok(HashMap::new()) })
    }
    /// Each customer's order totals on the UTC days after their first
    /// purchase day, up to `as_of`.
    fn repeat_day_spend<'a>(
        &'a self,
        _store: &'a str,
        _as_of: Millis,
    ) -> HostFuture<'a, HashMap<String, i64>> {
        Box::pin(async { Ok(HashMap::new()) })
    }
    /// Each customer's orders placed in `(as_of − days, as_of]` (new in
    /// contract 0.4.0).
    fn orders_within<'a>(
        &'a self,
        _store: &'a str,
        _as_of: Millis,
        _days: u32,
    ) -> HostFuture<'a, HashMap<String, i64>> {
        Box::pin(async { Ok(HashMap::new()) })
    }
    /// Each customer's latest scored answer among `kinds` (every kind when
    /// empty) submitted up to `as_of` (new in contract 0.4.0).
    fn latest_answer_of_each<'a>(
        &'a self,
        _store: &'a str,
        _as_of: Millis,
        _kinds: &'a [String],
    ) -> HostFuture<'a, HashMap<String, ScoredAnswer>> {
        Box::pin(async { Ok(HashMap::new()) })
    }
    /// The customer's memberships (enabled segmenters) with attributes.
    fn segments_of<'a>(
        &'a self,
        _store: &'a str,
        _customer: &'a str,
    ) -> HostFuture<'a, Vec<(String, serde_json::Value)>> {
        Box::pin(async { Ok(Vec::new()) })
    }
    /// The customer's latest scored answer of each survey kind in `kinds`
    /// (every kind when empty), newest first.
    fn latest_answers<'a>(
        &'a self,
        _store: &'a str,
        _customer: &'a str,
        _kinds: &'a [String],
    ) -> HostFuture<'a, Vec<ScoredAnswer>> {
        Box::pin(async { Ok(Vec::new()) })
    }
    /// A survey's own settings (`{}` when it has none); none when the
    /// store has no such survey.
    fn survey_settings<'a>(
        &'a self,
        _store: &'a str,
        _survey: &'a str,
    ) -> HostFuture<'a, Option<serde_json::Value>> {
        Box::pin(async { Ok(None) })
    }
    /// The store's complaint with this id (new in contract 0.5.0).
    fn complaint<'a>(
        &'a self,
        _store: &'a str,
        _id: &'a str,
    ) -> HostFuture<'a, Option<crate::db::complaints::Complaint>> {
        Box::pin(async { Ok(None) })
    }
    /// `install`'s ledger entries for `order`, by reason: what contract
    /// 0.5.0's `earnings` and 0.6.0's `order-ledger` answer.
    fn order_entries<'a>(
        &'a self,
        _store: &'a str,
        _install: &'a str,
        _order: &'a str,
    ) -> HostFuture<'a, OrderEntries> {
        Box::pin(async { Ok(OrderEntries::default()) })
    }
}

pub use crate::domain::survey::ScoredAnswer;

/// Services for calls that must not read store data (benchmarks, local
/// runs without a store).
pub struct NoServices;

impl HostServices for NoServices {
    fn store<'a>(&'a self, store: &'a str) -> HostFuture<'a, StoreInfo> {
        Box::pin(async move { Ok(StoreInfo::plain(store)) })
    }
    fn customer<'a>(&'a self, _: &'a str, _: &'a str) -> HostFuture<'a, Option<Customer>> {
        Box::pin(async { Ok(None) })
    }
    fn orders<'a>(&'a self, _: &'a str, _: &'a str, _: u32) -> HostFuture<'a, Vec<Order>> {
        Box::pin(async { Ok(Vec::new()) })
    }
    fn points_balance<'a>(&'a self, _: &'a str, _: &'a str) -> HostFuture<'a, i64> {
        Box::pin(async { Ok(0) })
    }
    fn state_key<'a>(&'a self, _: &'a str, _: &'a str, _: &'a str) -> HostFuture<'a, StoredKey> {
        Box::pin(async { Ok(StoredKey::default()) })
    }
}
