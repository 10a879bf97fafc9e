//! Failed sign-ins per source address: a bearer token, a session cookie
//! or the console's sign-in form that did not match. Past
//! `MAX_FAILURES` in `WINDOW`, the address gets 429 with `Retry-After`
//! until its window ends, whatever it sends: guessing keys costs a
//! minute per ten guesses. Counted per node, by the connecting address (a
//! proxy's clients share its address).

use std::collections::HashMap;
use std::net::{IpAddr, SocketAddr};
use std::sync::Mutex;
use std::time::{Duration, Instant};

/// Failures an address may make in a window.
pub const MAX_FAILURES: u32 = 10;
/// How long failures count.
pub const WINDOW: Duration = Duration::from_secs(60);
/// Past this many addresses, ended windows are swept before adding one.
const SWEEP_PAST: usize = 10_000;

#[derive(Default)]
pub struct FailedAttempts(Mutex<HashMap<IpAddr, Window>>);

struct Window {
    started: Instant,
    failures: u32,
}

impl FailedAttempts {
    /// `Err(seconds)` when `peer` failed too often and must wait.
    pub fn check(&self, peer: Option<SocketAddr>) -> Result<(), u64> {
        let Some(peer) = peer else { return Ok(()) };
        let map = self.0.lock().expect("attempts");
        match map.get(&peer.ip()) {
            Some(w) if w.failures >= MAX_FAILURES => {
                let left = WINDOW.saturating_sub(w.started.elapsed());
                if left.is_zero() {
                    Ok(())
                } else {
                    Err(left.as_secs().max(1))
                }
            }
            _ => Ok(()),
        }
    }

    /// `peer` presented a credential that did not match.
    pub fn failed(&self, peer: Option<SocketAddr>) {
        let Some(peer) = peer else { return };
        let mut map = self.0.lock().expect("attempts");
        if map.len() >= SWEEP_PAST {
            map.retain(|_, w| w.started.elapsed() < WINDOW);
        }
        let w = map.entry(peer.ip()).or_insert(Window { started: Instant::now(), failures: 0 });
        if w.started.elapsed() >= WINDOW {
            *w = Window { started: Instant::now(), failures: 0 };
        }
        w.failures += 1;
        if w.failures == MAX_FAILURES {
            tracing::warn!(address = %peer.ip(), "too many failed sign-ins; refusing this address for a minute");
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn an_address_is_refused_after_its_failures_and_others_are_not() {
        let a = FailedAttempts::default();
        let (one, two) =
            (Some("10.0.0.1:5000".parse().unwrap()), Some("10.0.0.2:1".parse().unwrap()));
        for _ in 0..MAX_FAILURES {
            assert!(a.check(one).is_ok());
            a.failed(one);
        }
        let wait = a.check(one).unwrap_err();
        assert!((1..=60).contains(&wait), "{wait}");
        // Another port of the same address is the same address.
        assert!(a.check(Some("10.0.0.1:6000".parse().unwrap())).is_err());
        assert!(a.check(two).is_ok());
        assert!(a.check(None).is_ok());
    }
}
