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

/// `local@domain`: a dot-atom local part of at most 64 characters and a
/// domain of dot-separated labels (letters, digits and inner hyphens;
/// letters of any script, for internationalized domains).
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
            && l.len() <= 63
            && !l.starts_with('-')
            && !l.ends_with('-')
            && l.chars().all(|c| c.is_alphanumeric() || c == '-')
    };
    s.len() <= 254 && local_ok && labels.len() >= 2 && labels.iter().all(label_ok)
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
}
