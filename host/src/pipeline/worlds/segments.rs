//! Applying classifications: memberships are replaced by the new ones and
//! every change becomes a `segment.entered` / `segment.exited` event of
//! the customer, which the other installs then receive like any event.

use std::collections::BTreeMap;

use serde_json::{json, Value};
use sha2::{Digest, Sha256};

use crate::db::segments::{self, Memberships};
use crate::db::{events, DbResult, Tx};
use crate::domain::effect::Effect;
use crate::domain::event::{Event, EventKind};
use crate::domain::segment::Membership;
use crate::domain::time::Millis;

/// Whether an event is one the host emitted for a segment change (those
/// do not trigger another classification or assessment).
pub fn is_segment_event(event_type: &str) -> bool {
    event_type.starts_with("segment.")
}

/// Who was classified, and why.
pub struct Classified<'a> {
    pub store: &'a str,
    pub install_id: &'a str,
    pub plugin: &'a str,
    pub customer: &'a str,
    pub as_of: Millis,
    /// The event or fit that caused it: part of the segment events' ids,
    /// so a replay emits nothing twice.
    pub cause: &'a str,
}

/// (customer, segment, attributes as JSON) rows of one (store, install).
type Rows = Vec<(String, String, String)>;

/// Collects a batch of classifications and writes them in a few statements.
pub struct SegmentWriter {
    now: Millis,
    upserts: BTreeMap<(String, String), Rows>,
    removals: Vec<(String, String, String)>,
    events: BTreeMap<String, Vec<Event>>,
}

impl SegmentWriter {
    pub fn new(now: Millis) -> Self {
        SegmentWriter {
            now,
            upserts: BTreeMap::new(),
            removals: Vec::new(),
            events: BTreeMap::new(),
        }
    }

    /// When the changes are written.
    pub fn now(&self) -> Millis {
        self.now
    }

    /// Replaces `old` by `new` for the customer; returns the changes.
    pub fn apply(
        &mut self,
        c: &Classified<'_>,
        old: Option<&Memberships>,
        new: &[Membership],
    ) -> Vec<Effect> {
        let empty = Memberships::new();
        let old = old.unwrap_or(&empty);
        let mut effects = Vec::new();
        let key = (c.store.to_string(), c.install_id.to_string());
        for m in new {
            if old.get(&m.segment) != Some(&m.attributes) {
                self.upserts.entry(key.clone()).or_default().push((
                    c.customer.to_string(),
                    m.segment.clone(),
                    m.attributes.to_string(),
                ));
            }
            if !old.contains_key(&m.segment) {
                effects.push(Effect::SegmentEntered { segment: m.segment.clone() });
                self.event(c, "segment.entered", &m.segment, &m.attributes);
            }
        }
        for segment in old.keys() {
            if !new.iter().any(|m| &m.segment == segment) {
                self.removals.push((
                    c.install_id.to_string(),
                    c.customer.to_string(),
                    segment.clone(),
                ));
                effects.push(Effect::SegmentExited { segment: segment.clone() });
                self.event(c, "segment.exited", segment, &json!({}));
            }
        }
        effects
    }

    fn event(&mut self, c: &Classified<'_>, kind: &str, segment: &str, attributes: &Value) {
        let mut h = Sha256::new();
        for part in [c.install_id, c.customer, segment, c.cause, kind] {
            h.update(part.as_bytes());
            h.update([0]);
        }
        let id = format!("seg-{}", &hex::encode(h.finalize())[..24]);
        let data = json!({"segment": segment, "install_id": c.install_id,
                          "plugin": c.plugin, "attributes": attributes});
        self.events.entry(c.store.to_string()).or_default().push(Event {
            id,
            event_type: kind.to_string(),
            customer_id: c.customer.to_string(),
            occurred_at: c.as_of,
            data_json: data.to_string(),
            data,
            kind: EventKind::Other,
        });
    }

    pub async fn finish(self, tx: &mut Tx) -> DbResult<usize> {
        for ((store, install), rows) in &self.upserts {
            segments::upsert(&mut *tx, store, install, rows, self.now).await?;
        }
        for (install, customer, segment) in &self.removals {
            segments::remove(&mut *tx, install, customer, segment).await?;
        }
        let mut emitted = 0;
        for (store, list) in &self.events {
            emitted += events::insert_many(&mut *tx, store, list, self.now).await?.len();
        }
        Ok(emitted)
    }
}
