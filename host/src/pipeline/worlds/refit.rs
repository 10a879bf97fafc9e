//! The update of every customer after a fit, as the model worlds share
//! it: each world's `refit` calls its plugin once per customer (here, with
//! progress logged) and returns what to write; the fitter writes it in one
//! transaction of its own, after it has confirmed it still holds the store.

use std::collections::HashMap;
use std::sync::Arc;

use crate::db::installs::Install;

use crate::domain::customer::Customer;
use crate::domain::segment::Membership;
use crate::domain::time::Millis;
use crate::runtime::services::HostServices;
use crate::runtime::{CallInput, CallOutput, Plugin, Runtime, RuntimeError, StateBuffer};

/// How often a long update logs its progress.
const PROGRESS_EVERY: usize = 5000;

/// What a refit of one install works with.
pub struct Refit<'a> {
    pub runtime: &'a Runtime,
    pub store: &'a str,
    pub install: &'a Install,
    pub plugin: &'a Plugin,
    /// `name@version`.
    pub pid: &'a str,
    pub config: &'a str,
    pub model: &'a [u8],
    pub as_of: Millis,
    pub now: Millis,
    pub people: &'a [Customer],
    /// Each customer's memberships, when the fit assigned them itself
    /// (a segmenter of contract 0.4.0 on): no call per customer then.
    pub assigned: Option<Vec<Vec<Membership>>>,
    /// Plugin state per customer (empty without the capability).
    pub states: HashMap<String, HashMap<String, Vec<u8>>>,
    pub services: &'a Arc<dyn HostServices>,
}

/// A refit's calls, sorted: how many failed, the plugin state the others
/// wrote, and what each of those customers got.
pub struct Sorted<'a, T> {
    pub done: Refitted,
    pub state_writes: Vec<(String, String, String, Option<Vec<u8>>)>,
    pub values: Vec<(&'a Customer, T)>,
}

/// How many customers a refit updated, and how many calls failed.
#[derive(Default, Debug, Clone, Copy)]
pub struct Refitted {
    pub updated: usize,
    pub failed: usize,
}

impl<'a> Refit<'a> {
    /// Calls `f` for every customer in `people` on this thread, logging
    /// progress, and sorts what they returned.
    pub fn for_everyone<T>(
        &mut self,
        mut f: impl FnMut(&mut Self, &Customer) -> Result<CallOutput<T>, RuntimeError>,
    ) -> Sorted<'a, T> {
        let (people, pid) = (self.people, self.pid);
        let results: Vec<_> = tokio::task::block_in_place(|| {
            let mut progress = Progress::new(pid, people.len());
            people.iter().map(|c| progress.note(c, f(self, c))).collect()
        });
        self.sort(results)
    }

    fn sort<T>(&self, results: Vec<Option<CallOutput<T>>>) -> Sorted<'a, T> {
        let mut sorted =
            Sorted { done: Refitted::default(), state_writes: Vec::new(), values: Vec::new() };
        for (c, result) in self.people.iter().zip(results) {
            let Some(out) = result else {
                sorted.done.failed += 1;
                continue;
            };
            for (k, v) in out.state.writes {
                let install = self.install.install_id.clone();
                sorted.state_writes.push((install, c.id.clone(), k, v));
            }
            sorted.values.push((c, out.value));
            sorted.done.updated += 1;
        }
        sorted
    }

    /// A call's input for `customer`, with that customer's state.
    pub fn input(&mut self, customer: &str) -> CallInput {
        let state = StateBuffer::whole(self.states.remove(customer).unwrap_or_default());
        CallInput::new(self.store, &self.install.install_id, self.pid, None, self.services)
            .with_state(state)
            .with_pii(crate::pipeline::registry::sees_pii(self.install, self.plugin))
    }
}

/// Progress of the update of every customer after a fit: logs every
/// `PROGRESS_EVERY` customers and the first few failures; a failed call
/// gives None.
struct Progress<'a> {
    pid: &'a str,
    of: usize,
    done: usize,
    failures: usize,
}

impl<'a> Progress<'a> {
    fn new(pid: &'a str, of: usize) -> Self {
        Progress { pid, of, done: 0, failures: 0 }
    }

    fn note<T>(
        &mut self,
        c: &Customer,
        result: Result<CallOutput<T>, RuntimeError>,
    ) -> Option<CallOutput<T>> {
        self.done += 1;
        if self.done.is_multiple_of(PROGRESS_EVERY) {
            tracing::info!(
                plugin = self.pid,
                done = self.done,
                of = self.of,
                "updating customers after fit"
            );
        }
        match result {
            Ok(o) => Some(o),
            Err(e) => {
                self.failures += 1;
                if self.failures <= 5 {
                    tracing::warn!(plugin = self.pid, customer = %c.id, code = e.code(),
                        error = %e, "call after fit failed");
                }
                None
            }
        }
    }
}
