//! Turns to write, for SQLite, which runs one write transaction at a time.
//! The writers of a process queue here instead of in SQLite's busy
//! handler (which sleeps up to 100 ms between looks), so a write starts
//! the moment the one before it ends. Intake goes first: a request's
//! insert waits for the transaction under way, not for every batch of the
//! workers queued before it (they have the slack; a client is waiting).

use std::collections::VecDeque;
use std::sync::{Arc, Mutex};

use tokio::sync::oneshot;

/// Who is waiting for a turn.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Priority {
    /// Events a client is waiting to have stored.
    Intake,
    /// Everything else, first come first served.
    Normal,
}

#[derive(Default, Clone)]
pub struct Turns(Arc<Mutex<Queue>>);

#[derive(Default)]
struct Queue {
    taken: bool,
    intake: VecDeque<oneshot::Sender<Turn>>,
    normal: VecDeque<oneshot::Sender<Turn>>,
}

/// A turn to write; the next waiter's when dropped.
pub struct Turn(Option<Turns>);

impl Turns {
    pub async fn take(&self, priority: Priority) -> Turn {
        let waiting = {
            let mut q = self.0.lock().expect("turns");
            if !q.taken {
                q.taken = true;
                return Turn(Some(self.clone()));
            }
            let (give, wait) = oneshot::channel();
            match priority {
                Priority::Intake => q.intake.push_back(give),
                Priority::Normal => q.normal.push_back(give),
            }
            wait
        };
        // The turn is handed over as a `Turn`: a waiter that went away
        // drops it unseen, and that passes it on.
        waiting.await.expect("a queued waiter is handed the turn")
    }

    /// Hands the turn to the next waiter, intake first, or frees it.
    fn pass(&self) {
        let mut q = self.0.lock().expect("turns");
        while let Some(next) = q.intake.pop_front().or_else(|| q.normal.pop_front()) {
            match next.send(Turn(Some(self.clone()))) {
                Ok(()) => return,
                // That waiter went away: forget the turn it was sent, and
                // try the next one.
                Err(mut turn) => turn.0 = None,
            }
        }
        q.taken = false;
    }
}

impl Drop for Turn {
    fn drop(&mut self) {
        if let Some(turns) = self.0.take() {
            turns.pass();
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use std::time::Duration;

    #[tokio::test]
    async fn intake_goes_before_the_workers_queued_earlier() {
        let turns = Turns::default();
        let first = turns.take(Priority::Normal).await;
        let order = Arc::new(Mutex::new(Vec::new()));
        let mut tasks = Vec::new();
        for (name, priority) in [("normal-1", Priority::Normal), ("intake", Priority::Intake)] {
            let (turns, order) = (turns.clone(), order.clone());
            tasks.push(tokio::spawn(async move {
                let _t = turns.take(priority).await;
                order.lock().unwrap().push(name);
            }));
            tokio::time::sleep(Duration::from_millis(20)).await;
        }
        drop(first);
        for t in tasks {
            t.await.unwrap();
        }
        assert_eq!(*order.lock().unwrap(), ["intake", "normal-1"]);
    }

    #[tokio::test]
    async fn a_waiter_that_goes_away_does_not_keep_the_turn() {
        let turns = Turns::default();
        let first = turns.take(Priority::Normal).await;
        let gone = {
            let turns = turns.clone();
            tokio::spawn(async move { turns.take(Priority::Normal).await })
        };
        tokio::time::sleep(Duration::from_millis(20)).await;
        gone.abort();
        let _ = gone.await;
        drop(first);
        let next = tokio::time::timeout(Duration::from_secs(1), turns.take(Priority::Intake)).await;
        assert!(next.is_ok(), "the turn was lost with the waiter that went away");
    }
}
