//! What the host's import functions need from the rest of the service.
//! The runtime only knows this trait; the pipeline implements it over the
//! database. Every method is scoped to one store by its first argument,
//! which the runtime fills in from the install, never from the guest.

use crate::domain::customer::{Customer, Order};

pub trait HostServices: Send + Sync {
    fn customer(&self, store: &str, customer: &str) -> Option<Customer>;
    fn orders(&self, store: &str, customer: &str, limit: u32) -> Vec<Order>;
    fn points_balance(&self, store: &str, customer: &str) -> i64;
}

/// Services for calls that must not read store data (upload checks).
pub struct NoServices;

impl HostServices for NoServices {
    fn customer(&self, _: &str, _: &str) -> Option<Customer> {
        None
    }
    fn orders(&self, _: &str, _: &str, _: u32) -> Vec<Order> {
        Vec::new()
    }
    fn points_balance(&self, _: &str, _: &str) -> i64 {
        0
    }
}
