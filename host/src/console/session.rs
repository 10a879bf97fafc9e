//! Console sessions: a signed cookie, so that every node of a cluster
//! accepts a session another node opened without sharing any state but the
//! admin token (the signing key is derived from it; rotating the token ends
//! every session).
//!
//! The cookie is `v1.<role>.<store, hex>.<expiry ms>.<HMAC-SHA256, hex>`,
//! sent `HttpOnly; SameSite=Strict; Path=/`. A write made with it must also
//! carry the session's CSRF token (`X-CSRF-Token`, or a form's `csrf`
//! field), which only a page of the console can read (`GET
//! /console/session`).

use hmac::{Hmac, Mac};
use sha2::Sha256;

use crate::api::auth::{AdminToken, Caller};

/// The cookie's name.
pub const COOKIE: &str = "clientele_session";
/// The cookie a sign-in form's CSRF token is paired with.
pub const SIGN_IN_COOKIE: &str = "clientele_sign_in";
/// How long a session lasts.
pub const LIFETIME_MS: i64 = 12 * 3600 * 1000;

type Signer = Hmac<Sha256>;

/// The key sessions are signed with, derived from the admin token.
#[derive(Clone)]
pub struct SessionKey([u8; 32]);

impl SessionKey {
    pub fn new(admin: &AdminToken) -> SessionKey {
        SessionKey(sign(&admin.0, b"clientele console sessions v1"))
    }

    /// A session cookie's value for `who`, ending at `expires_ms`.
    pub fn seal(&self, who: &Caller, expires_ms: i64) -> String {
        let (role, store) = match who {
            Caller::Admin => ("admin", String::new()),
            Caller::Store(s) => ("store", hex::encode(s)),
        };
        let body = format!("v1.{role}.{store}.{expires_ms}");
        let mac = hex::encode(sign(&self.0, body.as_bytes()));
        format!("{body}.{mac}")
    }

    /// Who a cookie's value signs in, if it is ours and has not expired.
    pub fn open(&self, value: &str, now_ms: i64) -> Option<Caller> {
        let (body, mac) = value.rsplit_once('.')?;
        let mac = hex::decode(mac).ok()?;
        let mut check = Signer::new_from_slice(&self.0).expect("any key length");
        check.update(body.as_bytes());
        check.verify_slice(&mac).ok()?;
        let mut parts = body.split('.');
        let (v, role, store, expires) =
            (parts.next()?, parts.next()?, parts.next()?, parts.next()?);
        if v != "v1" || parts.next().is_some() || expires.parse::<i64>().ok()? <= now_ms {
            return None;
        }
        match role {
            "admin" => Some(Caller::Admin),
            "store" => Some(Caller::Store(String::from_utf8(hex::decode(store).ok()?).ok()?)),
            _ => None,
        }
    }

    /// The session cookie a request carries and who it signs in, if it
    /// is ours and has not expired.
    pub fn of_request<'a>(
        &self,
        headers: &'a axum::http::HeaderMap,
        now_ms: i64,
    ) -> Option<(&'a str, Caller)> {
        let value = cookie(headers, COOKIE)?;
        Some((value, self.open(value, now_ms)?))
    }

    /// The CSRF token of a session (or of a sign-in form's nonce).
    pub fn csrf(&self, cookie_value: &str) -> String {
        hex::encode(sign(&self.0, format!("csrf:{cookie_value}").as_bytes()))
    }

    /// Whether `token` is the CSRF token of `cookie_value`.
    pub fn csrf_ok(&self, cookie_value: &str, token: &str) -> bool {
        let want = self.csrf(cookie_value);
        // Every byte compared, so timing says nothing.
        want.len() == token.len()
            && want.bytes().zip(token.bytes()).fold(0u8, |acc, (a, b)| acc | (a ^ b)) == 0
    }
}

fn sign(key: &[u8], message: &[u8]) -> [u8; 32] {
    let mut mac = Signer::new_from_slice(key).expect("any key length");
    mac.update(message);
    mac.finalize().into_bytes().into()
}

/// The value of cookie `name` in a `Cookie` header.
pub fn cookie<'a>(headers: &'a axum::http::HeaderMap, name: &str) -> Option<&'a str> {
    headers
        .get_all(axum::http::header::COOKIE)
        .iter()
        .filter_map(|v| v.to_str().ok())
        .flat_map(|v| v.split(';'))
        .find_map(|pair| {
            let (k, v) = pair.trim().split_once('=')?;
            (k == name).then_some(v)
        })
}

/// A `Set-Cookie` value: HttpOnly, SameSite=Strict, for the whole site;
/// `max_age_s` 0 deletes it.
pub fn set_cookie(name: &str, value: &str, max_age_s: i64, secure: bool) -> String {
    let secure = if secure { "; Secure" } else { "" };
    format!("{name}={value}; Path=/; HttpOnly; SameSite=Strict; Max-Age={max_age_s}{secure}")
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_session_opens_only_as_sealed_and_until_it_expires() {
        let key = SessionKey::new(&AdminToken::new("admin-token"));
        let store = key.seal(&Caller::Store("tea.house".into()), 2_000);
        assert!(matches!(key.open(&store, 1_000), Some(Caller::Store(s)) if s == "tea.house"));
        assert!(key.open(&store, 2_000).is_none(), "expired");
        let admin = key.seal(&Caller::Admin, 2_000);
        assert!(matches!(key.open(&admin, 1_999), Some(Caller::Admin)));
        // Another store, a changed expiry or another key: refused.
        let forged = store.replace(&hex::encode("tea.house"), &hex::encode("other"));
        assert!(key.open(&forged, 1_000).is_none());
        assert!(key.open(&store.replace(".2000.", ".9000."), 1_000).is_none());
        let other = SessionKey::new(&AdminToken::new("another token"));
        assert!(other.open(&store, 1_000).is_none());
        assert!(key.open("garbage", 1_000).is_none());
        // The CSRF token is the session's own.
        let token = key.csrf(&store);
        assert!(key.csrf_ok(&store, &token));
        assert!(!key.csrf_ok(&admin, &token));
        assert!(!key.csrf_ok(&store, ""));
    }
}
