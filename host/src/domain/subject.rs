//! Who a call or a write is about, and what caused it: the one record
//! every writer of effects (ledger, messages, state, flows) is told.

use super::time::Millis;

#[derive(Debug, Clone, Copy)]
pub struct Subject<'a> {
    pub store: &'a str,
    pub customer: &'a str,
    /// The install whose decision this is; none for what the host does by
    /// itself (expiry, redemption).
    pub install_id: Option<&'a str>,
    /// The event being processed, if an event caused this (not a fit or a
    /// flow's timer).
    pub event_id: Option<&'a str>,
    pub now: Millis,
}

impl<'a> Subject<'a> {
    /// What the host does by itself: no install, no event.
    pub fn host(store: &'a str, customer: &'a str, now: Millis) -> Self {
        Subject { store, customer, install_id: None, event_id: None, now }
    }

    /// A decision of `install_id`'s.
    pub fn of_install(store: &'a str, install_id: &'a str, customer: &'a str, now: Millis) -> Self {
        Subject { store, customer, install_id: Some(install_id), event_id: None, now }
    }

    /// The install's id, empty for the host's own writes.
    pub fn install(&self) -> &'a str {
        self.install_id.unwrap_or_default()
    }
}
