//! Identifier rules shared by the API and the manifest parser.

/// What `is_valid_id` asks, as an error says it.
pub const ID_RULE: &str = "must be 1-64 characters of [A-Za-z0-9._:-], not `.` or `..`";

/// Ids of stores, customers, events: 1–64 chars of `[A-Za-z0-9._:-]`,
/// but not `.` or `..`, which clients that normalise paths can never reach.
pub fn is_valid_id(s: &str) -> bool {
    !s.is_empty()
        && s != "."
        && s != ".."
        && s.len() <= 64
        && s.bytes().all(|b| b.is_ascii_alphanumeric() || matches!(b, b'.' | b'_' | b':' | b'-'))
}

/// Plugin names: `[a-z0-9-]{1,64}`.
pub fn is_valid_plugin_name(s: &str) -> bool {
    !s.is_empty()
        && s.len() <= 64
        && s.bytes().all(|b| b.is_ascii_lowercase() || b.is_ascii_digit() || b == b'-')
}

/// Custom event types: `[a-z0-9_.-]+` (at most 64 chars).
pub fn is_valid_event_type(s: &str) -> bool {
    !s.is_empty()
        && s.len() <= 64
        && s.bytes().all(|b| {
            b.is_ascii_lowercase() || b.is_ascii_digit() || matches!(b, b'_' | b'.' | b'-')
        })
}

/// A random token of 32 bytes, hex encoded.
pub fn random_token() -> String {
    use rand::RngCore;
    let mut bytes = [0u8; 32];
    rand::thread_rng().fill_bytes(&mut bytes);
    hex::encode(bytes)
}

/// A random id of 12 bytes, hex encoded, with a prefix.
pub fn random_id(prefix: &str) -> String {
    use rand::RngCore;
    let mut bytes = [0u8; 12];
    rand::thread_rng().fill_bytes(&mut bytes);
    format!("{prefix}_{}", hex::encode(bytes))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn ids() {
        assert!(is_valid_id("c-42"));
        assert!(is_valid_id("a.b_c:d-E9"));
        assert!(!is_valid_id(""));
        assert!(!is_valid_id("a b"));
        assert!(!is_valid_id("é"));
        assert!(!is_valid_id(&"x".repeat(65)));
        assert!(!is_valid_id("."));
        assert!(!is_valid_id(".."));
        assert!(is_valid_id("..."));
        assert!(is_valid_id(".a"));
        assert!(is_valid_plugin_name("points-basic"));
        assert!(!is_valid_plugin_name("Points"));
        assert!(is_valid_event_type("cart.abandoned"));
        assert!(!is_valid_event_type("Cart"));
    }
}
