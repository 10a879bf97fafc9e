//! Console sessions: a signed cookie naming a session that the database
//! keeps live. The signature lets a node refuse a forged cookie without a
//! lookup; the row (`db::sessions`) lets signing out, or rotating the
//! store's key, end the session on every node at once. The signing key is
//! derived from the admin token (rotating the token ends every session).
//!
//! The cookie is `v2.<role>.<store, hex>.<expiry ms>.<session id>.<HMAC-SHA256, hex>`,
//! sent `HttpOnly; SameSite=Strict; Path=/` (and `Secure` behind HTTPS).
//! A write made with it must also carry the session's CSRF token
//! (`X-CSRF-Token`, or a form's `csrf` field), which only a page of the
//! console can read (`GET /console/session`).

use hmac::{Hmac, Mac};
use sha2::Sha256;

pub use super::auth::{cookie, COOKIE};
use super::auth::{AdminToken, Caller};
use crate::db::{sessions, Db, DbResult};
use crate::domain::ids::random_token;

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

    /// A session cookie's value for `who`, session `sid`, ending at
    /// `expires_ms`.
    pub fn seal(&self, who: &Caller, sid: &str, expires_ms: i64) -> String {
        let (role, store) = match who {
            Caller::Admin => ("admin", String::new()),
            Caller::Store(s) => ("store", hex::encode(s)),
        };
        let body = format!("v2.{role}.{store}.{expires_ms}.{sid}");
        let mac = hex::encode(sign(&self.0, body.as_bytes()));
        format!("{body}.{mac}")
    }

    /// Who a cookie's value signs in, and its session id, if it is ours
    /// and has not expired (whether the session was ended is the
    /// database's to say: `of_request`).
    pub fn open(&self, value: &str, now_ms: i64) -> Option<(Caller, String)> {
        let (body, mac) = value.rsplit_once('.')?;
        let mac = hex::decode(mac).ok()?;
        let mut check = Signer::new_from_slice(&self.0).expect("any key length");
        check.update(body.as_bytes());
        check.verify_slice(&mac).ok()?;
        let mut parts = body.split('.');
        let (v, role, store, expires, sid) =
            (parts.next()?, parts.next()?, parts.next()?, parts.next()?, parts.next()?);
        if v != "v2" || parts.next().is_some() || expires.parse::<i64>().ok()? <= now_ms {
            return None;
        }
        let who = match role {
            "admin" => Caller::Admin,
            "store" => Caller::Store(String::from_utf8(hex::decode(store).ok()?).ok()?),
            _ => return None,
        };
        Some((who, sid.to_string()))
    }

    /// A new session for `who`, live from now until `expires_ms`: its
    /// cookie's value.
    pub async fn begin(
        &self,
        db: &Db,
        who: &Caller,
        now_ms: i64,
        expires_ms: i64,
    ) -> DbResult<String> {
        let sid = random_token();
        let store = match who {
            Caller::Admin => None,
            Caller::Store(s) => Some(s.as_str()),
        };
        let mut conn = db.write_conn().await?;
        sessions::begin(&mut conn, &sid_hash(&sid), store, expires_ms, now_ms).await?;
        Ok(self.seal(who, &sid, expires_ms))
    }

    /// The session cookie a request carries and who it signs in, if it
    /// is ours, has not expired and was not ended.
    pub async fn of_request<'a>(
        &self,
        db: &Db,
        headers: &'a axum::http::HeaderMap,
        now_ms: i64,
    ) -> Option<(&'a str, Caller)> {
        let value = cookie(headers, COOKIE)?;
        let (who, sid) = self.open(value, now_ms)?;
        let mut conn = match db.pool.acquire().await {
            Ok(c) => c,
            Err(e) => {
                tracing::warn!(error = %e, "console session not checked: the database does not answer");
                return None;
            }
        };
        match sessions::is_live(&mut conn, &sid_hash(&sid), now_ms).await {
            Ok(true) => Some((value, who)),
            Ok(false) => None,
            Err(e) => {
                tracing::warn!(error = %e, "console session not checked");
                None
            }
        }
    }

    /// Ends the session of a cookie's value (signing out), on every node.
    pub async fn end(&self, db: &Db, value: &str) -> DbResult<()> {
        // An expired cookie's session is ended too: `open` would refuse it.
        let Some((_, sid)) = self.open(value, i64::MIN) else {
            return Ok(());
        };
        let mut conn = db.write_conn().await?;
        sessions::end(&mut conn, &sid_hash(&sid)).await
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

/// What the database keeps of a session id.
fn sid_hash(sid: &str) -> String {
    hex::encode(<Sha256 as sha2::Digest>::digest(sid.as_bytes()))
}

fn sign(key: &[u8], message: &[u8]) -> [u8; 32] {
    let mut mac = Signer::new_from_slice(key).expect("any key length");
    mac.update(message);
    mac.finalize().into_bytes().into()
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
        let store = key.seal(&Caller::Store("tea.house".into()), "s1", 2_000);
        assert!(
            matches!(key.open(&store, 1_000), Some((Caller::Store(s), sid)) if s == "tea.house" && sid == "s1")
        );
        assert!(key.open(&store, 2_000).is_none(), "expired");
        let admin = key.seal(&Caller::Admin, "s2", 2_000);
        assert!(matches!(key.open(&admin, 1_999), Some((Caller::Admin, _))));
        // Another store, a changed expiry or session, or another key: refused.
        let forged = store.replace(&hex::encode("tea.house"), &hex::encode("other"));
        assert!(key.open(&forged, 1_000).is_none());
        assert!(key.open(&store.replace(".2000.", ".9000."), 1_000).is_none());
        assert!(key.open(&store.replace(".s1.", ".s2."), 1_000).is_none());
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
