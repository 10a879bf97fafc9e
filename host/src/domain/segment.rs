//! Segment memberships as a segmenter decides them.

use serde_json::Value;

/// Most memberships one classification may return.
pub const MAX_MEMBERSHIPS: usize = 100;

#[derive(Debug, Clone, PartialEq, serde::Serialize)]
pub struct Membership {
    /// e.g. `rfm:champions`: 1 to 128 characters, no control characters.
    pub segment: String,
    /// A JSON object.
    pub attributes: Value,
}

/// Checks a classification; the error says what is wrong.
pub fn validate(list: &[Membership]) -> Result<(), String> {
    if list.len() > MAX_MEMBERSHIPS {
        return Err(format!("{} memberships; at most {MAX_MEMBERSHIPS}", list.len()));
    }
    let mut seen = std::collections::HashSet::new();
    for m in list {
        if m.segment.is_empty() || m.segment.len() > 128 || m.segment.chars().any(char::is_control)
        {
            return Err(format!(
                "segment name {:?} must be 1 to 128 characters without control characters",
                m.segment
            ));
        }
        if !seen.insert(&m.segment) {
            return Err(format!("segment {} returned twice", m.segment));
        }
        if !m.attributes.is_object() {
            return Err(format!("attributes of {} must be a JSON object", m.segment));
        }
    }
    Ok(())
}
