//! Which store a worker serves next. Work is done per store: a worker
//! holds a store (its lane) while it runs one unit of that store's work —
//! due flow steps, then one batch of events — so a store's customers are
//! never worked on twice at once and their events stay in arrival order,
//! while other stores are served by the other workers. Stores with work
//! take turns (round robin), so a store whose plugins run to their limits
//! holds at most one worker at a time: its share, and no more.

use std::collections::{HashMap, HashSet, VecDeque};
use std::sync::Mutex;

use tokio::sync::Notify;

#[derive(Default)]
pub struct Lanes {
    inner: Mutex<Inner>,
    /// Wakes idle workers (work was added) and waiters (a store was freed).
    changed: Notify,
}

#[derive(Default)]
struct Inner {
    /// Stores that may have work, in the order they are served.
    queue: VecDeque<String>,
    /// Per queued store, bumped whenever work is added for it, so a
    /// worker that found nothing can tell whether more came meanwhile.
    marks: HashMap<String, u64>,
    next_mark: u64,
    /// Stores held by a worker (or by a fit's update) now.
    held: HashSet<String>,
    /// Stores someone waits to hold outside the turn: no worker takes
    /// them meanwhile, so the waiter gets them next.
    wanted: HashSet<String>,
}

/// A store held by one worker until it is released.
#[derive(Debug)]
pub struct Lease {
    pub store: String,
    mark: u64,
}

impl Lanes {
    /// Work was added for `store` (events, due flow steps).
    pub fn mark(&self, store: &str) {
        let mut inner = self.inner.lock().expect("lanes");
        inner.next_mark += 1;
        let mark = inner.next_mark;
        if inner.marks.insert(store.to_string(), mark).is_none() {
            inner.queue.push_back(store.to_string());
        }
        drop(inner);
        self.changed.notify_waiters();
        self.changed.notify_one();
    }

    /// The first store in turn that has work and that nobody holds, now
    /// held by the caller; it goes to the back of the turn.
    pub fn take(&self) -> Option<Lease> {
        let mut inner = self.inner.lock().expect("lanes");
        let at = inner
            .queue
            .iter()
            .position(|s| !inner.held.contains(s) && !inner.wanted.contains(s))?;
        let store = inner.queue.remove(at).expect("position is in range");
        inner.queue.push_back(store.clone());
        inner.held.insert(store.clone());
        let mark = inner.marks[&store];
        Some(Lease { store, mark })
    }

    /// Frees the store. `idle`: the worker found no work, so the store
    /// leaves the turn, unless work was added for it since it was taken.
    pub fn release(&self, lease: Lease, idle: bool) {
        let mut inner = self.inner.lock().expect("lanes");
        inner.held.remove(&lease.store);
        if idle && inner.marks.get(&lease.store) == Some(&lease.mark) {
            inner.marks.remove(&lease.store);
            inner.queue.retain(|s| *s != lease.store);
        }
        drop(inner);
        self.changed.notify_waiters();
        self.changed.notify_one();
    }

    /// Holds `store` as soon as no worker does (for work that is not in
    /// the turn, such as the update of every customer after a fit), until
    /// the answer is dropped.
    pub async fn hold(&self, store: &str) -> Held<'_> {
        self.inner.lock().expect("lanes").wanted.insert(store.to_string());
        loop {
            let notified = self.changed.notified();
            tokio::pin!(notified);
            notified.as_mut().enable();
            let got = {
                let mut inner = self.inner.lock().expect("lanes");
                let got = inner.held.insert(store.to_string());
                if got {
                    inner.wanted.remove(store);
                }
                got
            };
            if got {
                return Held {
                    lanes: self,
                    lease: Some(Lease { store: store.to_string(), mark: 0 }),
                };
            }
            notified.await;
        }
    }

    /// Holds `store` if nobody does, nobody waits for it and no work is
    /// known for it (it is not in the turn): for giving up an idle
    /// store's lease without a worker taking the store meanwhile.
    pub fn hold_if_idle(&self, store: &str) -> Option<Held<'_>> {
        let mut inner = self.inner.lock().expect("lanes");
        let busy = inner.held.contains(store)
            || inner.wanted.contains(store)
            || inner.marks.contains_key(store);
        if busy {
            return None;
        }
        inner.held.insert(store.to_string());
        Some(Held { lanes: self, lease: Some(Lease { store: store.to_string(), mark: 0 }) })
    }

    /// Stores with work (waiting or being served), and stores held.
    pub fn counts(&self) -> (usize, usize) {
        let inner = self.inner.lock().expect("lanes");
        (inner.queue.len(), inner.held.len())
    }

    /// Waits until work may have been added, or `timeout` passes.
    pub async fn wait(&self, timeout: std::time::Duration) {
        let _ = tokio::time::timeout(timeout, self.changed.notified()).await;
    }

    /// Wakes every waiting worker (to see that the node stops).
    pub fn wake_all(&self) {
        self.changed.notify_waiters();
    }
}

/// A store held outside the turn; freed when dropped.
pub struct Held<'a> {
    lanes: &'a Lanes,
    lease: Option<Lease>,
}

impl Drop for Held<'_> {
    fn drop(&mut self) {
        if let Some(lease) = self.lease.take() {
            self.lanes.release(lease, false);
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn stores_take_turns_and_one_worker_holds_a_store() {
        let lanes = Lanes::default();
        lanes.mark("a");
        lanes.mark("b");
        let first = lanes.take().unwrap();
        assert_eq!(first.store, "a");
        // `a` is held: the next worker gets `b`, and nobody a third.
        let second = lanes.take().unwrap();
        assert_eq!(second.store, "b");
        assert!(lanes.take().is_none());
        // `a` had work: it stays in turn, after `b`.
        lanes.release(first, false);
        lanes.release(second, false);
        assert_eq!(lanes.take().unwrap().store, "a");
    }

    #[test]
    fn an_idle_store_leaves_the_turn_unless_work_came_meanwhile() {
        let lanes = Lanes::default();
        lanes.mark("a");
        let lease = lanes.take().unwrap();
        lanes.mark("a"); // events arrived while the worker looked
        lanes.release(lease, true);
        let lease = lanes.take().expect("still in turn");
        lanes.release(lease, true);
        assert!(lanes.take().is_none());
        assert!(lanes.inner.lock().unwrap().queue.is_empty());
    }

    #[test]
    fn only_a_store_without_work_or_worker_is_held_as_idle() {
        let lanes = Lanes::default();
        lanes.mark("a");
        assert!(lanes.hold_if_idle("a").is_none(), "work is known for it");
        let lease = lanes.take().unwrap();
        lanes.release(lease, true);
        let held = lanes.hold_if_idle("a").expect("idle now");
        // Held as idle: work added meanwhile waits for the hold to end.
        lanes.mark("a");
        assert!(lanes.take().is_none());
        drop(held);
        assert_eq!(lanes.take().unwrap().store, "a");
        assert!(lanes.hold_if_idle("a").is_none(), "a worker has it");
    }

    #[tokio::test]
    async fn hold_waits_for_the_worker() {
        let lanes = std::sync::Arc::new(Lanes::default());
        lanes.mark("a");
        let lease = lanes.take().unwrap();
        let (tx, rx) = tokio::sync::oneshot::channel::<()>();
        let l = lanes.clone();
        let waiter = tokio::spawn(async move {
            let _held = l.hold("a").await;
            // Held outside the turn: no worker takes it meanwhile.
            l.mark("a");
            assert!(l.take().is_none());
            let _ = rx.await;
        });
        tokio::time::sleep(std::time::Duration::from_millis(20)).await;
        assert!(!waiter.is_finished());
        // The worker gives the store back with work left: it does not get
        // it again before the waiter.
        lanes.mark("a");
        lanes.release(lease, false);
        assert!(lanes.take().is_none());
        tokio::time::sleep(std::time::Duration::from_millis(20)).await;
        tx.send(()).unwrap();
        waiter.await.unwrap();
        assert!(lanes.take().is_some());
    }
}
