//! Identifier rules shared by the API and the manifest parser.

/// What `is_valid_id` asks, as an error says it.
pub const ID_RULE: &str = "must be 1-64 characters of [A-Za-z0-9._:-], not `.` or `..`";

/// `is_valid_id` as a JSON Schema pattern (ECMA 262, no look-around):
/// not starting with `.`, or `.` and one more, or `..` and more.
pub const ID_PATTERN: &str = "^([A-Za-z0-9_:-][A-Za-z0-9._:-]{0,63}|\\.[A-Za-z0-9_:-][A-Za-z0-9._:-]{0,62}|\\.\\.[A-Za-z0-9._:-]{1,62})$";

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
    }

    #[test]
    fn the_pattern_says_what_the_rule_does() {
        let schema = serde_json::json!({"type": "string", "pattern": ID_PATTERN});
        let v = jsonschema::validator_for(&schema).unwrap();
        let long = "x".repeat(64);
        let too_long = "x".repeat(65);
        let dots = format!("..{}", "x".repeat(62));
        for s in [
            "c-42",
            "a.b_c:d-E9",
            "",
            "a b",
            "é",
            ".",
            "..",
            "...",
            ".a",
            "..a",
            "a.",
            &long,
            &too_long,
            &dots,
            "Î",
            "x/y",
            "a\n",
        ] {
            assert_eq!(v.is_valid(&serde_json::json!(s)), is_valid_id(s), "{s:?}");
        }
        assert!(is_valid_id(".a"));
        assert!(is_valid_plugin_name("points-basic"));
        assert!(!is_valid_plugin_name("Points"));
        assert!(is_valid_event_type("cart.abandoned"));
        assert!(!is_valid_event_type("Cart"));
    }
}
