//! The forms an e-mail address and a phone number must have to be stored:
//! what a merchant's mailer or SMS gateway can send to, and nothing that a
//! page showing them could mistake for markup.

/// What a valid e-mail address looks like, for error messages.
pub const EMAIL_RULE: &str =
    "must be an e-mail address like li@example.cn: at most 254 characters, one @, no spaces, \
     quotes or angle brackets, a domain with a dot";

/// What a valid phone number looks like, for error messages.
pub const PHONE_RULE: &str =
    "must be a phone number like +86 138 0013 8000: 4-15 digits, an optional leading +, \
     and spaces, dashes, dots or parentheses between them";

/// The e-mail rule as JSON Schema patterns, all of which must match (with
/// a `maxLength` of 254): the shape, and the local part's 64 characters.
/// A domain label's letters of other scripts are the characters from
/// U+00A1 to U+FFFF but spaces (`is_label_char`).
pub const EMAIL_PATTERNS: [&str; 2] = [
    concat!(
        r"^[A-Za-z0-9!#$%&'*+/=?^_`{|}~-]+(\.[A-Za-z0-9!#$%&'*+/=?^_`{|}~-]+)*",
        r"@[LC]([LC-]{0,61}[LC])?(\.[LC]([LC-]{0,61}[LC])?)+$"
    ),
    r"^[^@]{1,64}@",
];

/// What `[LC]` stands for in `EMAIL_PATTERNS`.
pub const LABEL_CHARS: &str = r"A-Za-z0-9\u00A1-\u167F\u1681-\u1FFF\u200B-\u2027\u202A-\u202E\u2030-\u205E\u2060-\u2FFF\u3001-\uD7FF\uE000-\uFEFE\uFF00-\uFFFF";

/// The e-mail patterns with `[LC]` spelled out.
pub fn email_patterns() -> [String; 2] {
    EMAIL_PATTERNS.map(|p| p.replace("LC", LABEL_CHARS))
}

/// The phone rule as JSON Schema patterns (with a `maxLength` of 32): the
/// characters, and 4 to 15 digits among them.
pub const PHONE_PATTERNS: [&str; 2] = [r"^\+?[0-9(][0-9 ().-]*$", r"^[^0-9]*([0-9][^0-9]*){4,15}$"];

/// `local@domain`: a dot-atom local part of at most 64 characters and a
/// domain of dot-separated labels (letters, digits and inner hyphens;
/// letters of other scripts too, for internationalized domains).
pub fn is_valid_email(s: &str) -> bool {
    let Some((local, domain)) = s.split_once('@') else {
        return false;
    };
    let atext = |c: char| c.is_ascii_alphanumeric() || "!#$%&'*+/=?^_`{|}~-".contains(c);
    let local_ok = !local.is_empty()
        && local.len() <= 64
        && local.split('.').all(|part| !part.is_empty() && part.chars().all(atext));
    let labels: Vec<&str> = domain.split('.').collect();
    let label_ok = |l: &&str| {
        !l.is_empty()
            && l.chars().count() <= 63
            && !l.starts_with('-')
            && !l.ends_with('-')
            && l.chars().all(|c| is_label_char(c) || c == '-')
    };
    s.chars().count() <= 254 && local_ok && labels.len() >= 2 && labels.iter().all(label_ok)
}

/// A letter or digit of a domain label: ASCII ones, or any character from
/// U+00A1 to U+FFFF that is not a space.
fn is_label_char(c: char) -> bool {
    let spaces =
        ['\u{1680}', '\u{2028}', '\u{2029}', '\u{202F}', '\u{205F}', '\u{3000}', '\u{FEFF}'];
    c.is_ascii_alphanumeric()
        || (('\u{A1}'..='\u{FFFF}').contains(&c)
            && !('\u{2000}'..='\u{200A}').contains(&c)
            && !spaces.contains(&c))
}

/// 4-15 digits (E.164 allows 15), an optional leading `+`, and spaces,
/// dashes, dots or parentheses as separators.
pub fn is_valid_phone(s: &str) -> bool {
    let body = s.strip_prefix('+').unwrap_or(s);
    let digits = body.chars().filter(char::is_ascii_digit).count();
    s.len() <= 32
        && (4..=15).contains(&digits)
        && body.chars().next().is_some_and(|c| c.is_ascii_digit() || c == '(')
        && body.chars().all(|c| c.is_ascii_digit() || " -.()".contains(c))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn emails() {
        for ok in
            ["li@example.cn", "a.b+tag@sub.example.co.uk", "x_y@xn--fiqs8s.cn", "li@例子.中国"]
        {
            assert!(is_valid_email(ok), "{ok}");
        }
        for bad in [
            "x\"><svg/onload=alert(1)>@example.com",
            "no-at-sign",
            "two@@example.com",
            "a@b@example.com",
            "spa ce@example.com",
            "li@localhost",
            "li@-example.com",
            "li@example..com",
            ".li@example.com",
            "li.@example.com",
            "<li@example.com>",
            "",
        ] {
            assert!(!is_valid_email(bad), "{bad}");
        }
        assert!(!is_valid_email(&format!("{}@example.com", "a".repeat(65))));
    }

    #[test]
    fn phones() {
        for ok in ["+86 138 0013 8000", "(030) 1234-5678", "555.0100", "1234"] {
            assert!(is_valid_phone(ok), "{ok}");
        }
        for bad in
            ["", "+", "123", "<script>", "+86 138 0013 8000 1234 5", "call me", "++123456", "-1234"]
        {
            assert!(!is_valid_phone(bad), "{bad}");
        }
    }

    /// The patterns the document states and the functions the server runs
    /// agree, on the examples above and on strings made to probe the edges.
    #[test]
    fn the_patterns_say_what_the_functions_do() {
        let schema = |patterns: [String; 2], max: usize| {
            let all: Vec<_> = patterns.iter().map(|p| serde_json::json!({"pattern": p})).collect();
            jsonschema::validator_for(
                &serde_json::json!({"type": "string", "maxLength": max, "allOf": all}),
            )
            .unwrap()
        };
        let email = schema(email_patterns(), 254);
        let phone = schema(PHONE_PATTERNS.map(str::to_string), 32);
        let mut samples: Vec<String> = [
            "li@example.cn",
            "li@例子.中国",
            "a..b@example.com",
            "a@b.c",
            "a@b",
            "a@-b.c",
            "a@b-.c",
            "a@b\u{00A0}c.d",
            "a@b\u{2003}.c",
            "a@b\u{FEFF}.c",
            "a@\u{1F600}.cn",
            "a@\u{9F}x.cn",
            "a@x\u{A1}.cn",
            "a b@c.d",
            "1234",
            "+(1)234",
            "+ 1234",
            "12345678901234567",
            "(((1234",
            "1.2.3.4",
            "+1234567890123456",
            "a@b.c@d.e",
            "",
            "@b.c",
        ]
        .iter()
        .map(|s| s.to_string())
        .collect();
        samples.push(format!("{}@example.com", "a".repeat(64)));
        samples.push(format!("{}@example.com", "a".repeat(65)));
        samples.push(format!("a@{}.cn", "b".repeat(63)));
        samples.push(format!("a@{}.cn", "b".repeat(64)));
        samples.push(format!("a@{}.cn", "例".repeat(63)));
        samples.push(format!("a@{}.cn", "例".repeat(64)));
        samples.push(format!("a@{}.cn", vec!["b".repeat(60); 5].join(".")));
        for s in &samples {
            let v = serde_json::json!(s);
            assert_eq!(email.is_valid(&v), is_valid_email(s), "e-mail {s:?}");
            assert_eq!(phone.is_valid(&v), is_valid_phone(s), "phone {s:?}");
        }
    }
}
