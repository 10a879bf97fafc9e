//! Bearer tokens: the platform admin token, or a store's API key.

use axum::extract::{FromRequestParts, RawPathParams};
use axum::http::request::Parts;
use sha2::{Digest, Sha256};
use std::time::{Duration, Instant};

use super::{ApiError, AppState};
use crate::db::installs::{self, Install};
use crate::db::stores;
use crate::domain::ids::{is_valid_id, ID_RULE};

/// The admin token, kept as its sha256 so it is compared in constant shape.
#[derive(Clone)]
pub struct AdminToken(pub [u8; 32]);

impl AdminToken {
    pub fn new(token: &str) -> Self {
        AdminToken(Sha256::digest(token.as_bytes()).into())
    }
}

/// Store keys found valid, by their sha256, so that a store's requests do
/// not look their key up each time. A key is trusted from here for
/// `TRUSTED_FOR` after it was looked up: a key rotated through another
/// node stops working here within that time (through this node, at once:
/// `forget_store`). A key not known is looked up every time, so a new
/// store's key works at once.
#[derive(Default)]
pub struct KnownKeys(std::sync::RwLock<std::collections::HashMap<[u8; 32], (String, Instant)>>);

impl KnownKeys {
    /// Past this many, keys are looked up instead of kept.
    const MAX: usize = 100_000;
    /// How long a key found valid is trusted without a lookup.
    pub const TRUSTED_FOR: Duration = Duration::from_secs(5);

    fn store_of(&self, digest: &[u8; 32]) -> Option<String> {
        let known = self.0.read().expect("keys");
        let (store, at) = known.get(digest)?;
        (at.elapsed() < Self::TRUSTED_FOR).then(|| store.clone())
    }

    fn learn(&self, digest: [u8; 32], store: &str) {
        let mut known = self.0.write().expect("keys");
        if known.len() >= Self::MAX {
            known.retain(|_, (_, at)| at.elapsed() < Self::TRUSTED_FOR);
        }
        if known.len() < Self::MAX {
            known.insert(digest, (store.to_string(), Instant::now()));
        }
    }

    /// The store's key changed: its old key is looked up again.
    pub fn forget_store(&self, store: &str) {
        self.0.write().expect("keys").retain(|_, (s, _)| s != store);
    }
}

/// Who is calling.
#[derive(Debug, Clone)]
pub enum Caller {
    Admin,
    Store(String),
}

pub fn key_hash(token: &str) -> String {
    hex::encode(Sha256::digest(token.as_bytes()))
}

impl FromRequestParts<AppState> for Caller {
    type Rejection = ApiError;

    async fn from_request_parts(
        parts: &mut Parts,
        state: &AppState,
    ) -> Result<Self, Self::Rejection> {
        let peer = peer(parts);
        state.attempts.check(peer).map_err(ApiError::throttled)?;
        let bearer = bearer(parts);
        let found = match bearer {
            Some(token) => Caller::of_token(state, token).await?.ok_or_else(ApiError::unauthorized),
            None => console_session(parts, state).await,
        };
        // A credential that was sent and did not match counts against the
        // address; sending none does not.
        let sent = bearer.is_some() || carries_session(&parts.headers);
        if sent && found.as_ref().is_err_and(|e| e.status == axum::http::StatusCode::UNAUTHORIZED) {
            state.attempts.failed(peer);
        }
        found
    }
}

/// The `Authorization: Bearer` token, if one was sent.
fn bearer(parts: &Parts) -> Option<&str> {
    parts
        .headers
        .get(axum::http::header::AUTHORIZATION)
        .and_then(|v| v.to_str().ok())
        .and_then(|v| v.strip_prefix("Bearer "))
        .map(str::trim)
}

/// The connecting address, when the server records it.
pub fn peer(parts: &Parts) -> Option<std::net::SocketAddr> {
    parts.extensions.get::<axum::extract::ConnectInfo<std::net::SocketAddr>>().map(|c| c.0)
}

/// The connecting address as an extractor (None where the server does
/// not record it).
pub struct Peer(pub Option<std::net::SocketAddr>);

impl<S: Send + Sync> FromRequestParts<S> for Peer {
    type Rejection = std::convert::Infallible;

    async fn from_request_parts(parts: &mut Parts, _: &S) -> Result<Self, Self::Rejection> {
        Ok(Peer(peer(parts)))
    }
}

/// The console's session cookie, when no bearer token was sent. A write
/// must also carry the session's CSRF token in `X-CSRF-Token`.
async fn console_session(parts: &Parts, state: &AppState) -> Result<Caller, ApiError> {
    let (value, caller) = state
        .sessions
        .of_request(&state.pipeline.db, &parts.headers, crate::domain::time::now_ms())
        .await
        .ok_or_else(ApiError::unauthorized)?;
    if !parts.method.is_safe() {
        let token =
            parts.headers.get("x-csrf-token").and_then(|v| v.to_str().ok()).unwrap_or_default();
        if !state.sessions.csrf_ok(value, token) {
            return Err(ApiError::forbidden(
                "a write from the console needs the session's X-CSRF-Token",
            ));
        }
    }
    Ok(caller)
}

impl Caller {
    /// Who a bearer token is: the admin, a store (by its key), or nobody.
    pub async fn of_token(state: &AppState, token: &str) -> Result<Option<Caller>, ApiError> {
        let digest: [u8; 32] = Sha256::digest(token.as_bytes()).into();
        // Compare all bytes (no early exit) so timing says nothing.
        if digest.iter().zip(state.admin.0.iter()).fold(0u8, |acc, (a, b)| acc | (a ^ b)) == 0 {
            return Ok(Some(Caller::Admin));
        }
        if let Some(store) = state.keys.store_of(&digest) {
            return Ok(Some(Caller::Store(store)));
        }
        let mut conn = state.pipeline.db.pool.acquire().await?;
        let store = stores::by_api_key(&mut conn, &hex::encode(digest)).await?;
        if let Some(store) = &store {
            state.keys.learn(digest, store);
        }
        Ok(store.map(Caller::Store))
    }

    pub fn require_admin(&self) -> Result<(), ApiError> {
        match self {
            Caller::Admin => Ok(()),
            Caller::Store(_) => Err(ApiError::forbidden("this needs the platform admin token")),
        }
    }

    /// The caller may touch `store`, and it exists. Another store's key
    /// gets 404, exactly as for a store that does not exist.
    pub async fn require_store(&self, state: &AppState, store: &str) -> Result<(), ApiError> {
        let not_found = || ApiError::not_found(format!("store `{store}` not found"));
        match self {
            Caller::Store(own) if own == store => Ok(()),
            Caller::Store(_) => Err(not_found()),
            Caller::Admin => {
                let mut conn = state.pipeline.db.pool.acquire().await?;
                match stores::get(&mut conn, store).await? {
                    Some(_) => Ok(()),
                    None => Err(not_found()),
                }
            }
        }
    }
}

/// A request about one store (`/v1/stores/{store}/…`) by a caller allowed
/// to see it: the admin, or that store's own key. Extracting it is the
/// whole check; another store's key gets 404 as for a missing store.
pub struct StoreScope {
    pub store: String,
    /// Who is asking, as an install's history names them: `admin`, or
    /// `store` (the store's own key).
    pub actor: &'static str,
    /// Which credential is asking, as the count of personal data read
    /// names it: `admin token`, `store key <first 8 of its sha256>`, or
    /// `console (admin)` / `console (store key)`.
    pub reader: String,
    /// What the request works with.
    pub pipeline: crate::pipeline::Pipeline,
}

impl StoreScope {
    /// A connection for the request's reads.
    pub async fn conn(&self) -> Result<sqlx::pool::PoolConnection<sqlx::Any>, ApiError> {
        Ok(self.pipeline.db.pool.acquire().await?)
    }
}

impl FromRequestParts<AppState> for StoreScope {
    type Rejection = ApiError;

    async fn from_request_parts(
        parts: &mut Parts,
        state: &AppState,
    ) -> Result<Self, Self::Rejection> {
        let caller = Caller::from_request_parts(parts, state).await?;
        let store = path_param(parts, state, "store").await?;
        caller.require_store(state, &store).await?;
        let reader = match (bearer(parts), &caller) {
            (Some(_), Caller::Admin) => "admin token".to_string(),
            (Some(token), Caller::Store(_)) => format!("store key {}", &key_hash(token)[..8]),
            (None, Caller::Admin) => "console (admin)".to_string(),
            (None, Caller::Store(_)) => "console (store key)".to_string(),
        };
        Ok(StoreScope {
            reader,
            actor: match caller {
                Caller::Admin => "admin",
                Caller::Store(_) => "store",
            },
            store,
            pipeline: state.pipeline.clone(),
        })
    }
}

/// The route's `{name}` segment, decoded.
async fn path_param(parts: &mut Parts, state: &AppState, name: &str) -> Result<String, ApiError> {
    let params = RawPathParams::from_request_parts(parts, state)
        .await
        .map_err(|e| ApiError::from_status(e.status(), e.body_text()))?;
    params
        .iter()
        .find(|(n, _)| *n == name)
        .map(|(_, value)| value.to_string())
        .ok_or_else(|| ApiError::not_found(format!("this route is not about a {name}")))
}

/// A `StoreScope` that also names one thing of the store, read from the
/// route's `{param}` after the store's check: it derefs to the store.
macro_rules! scope_of_one {
    ($(#[$doc:meta])* $name:ident { $field:ident: $ty:ty }, $param:literal, |$scope:ident, $id:ident| $read:expr) => {
        $(#[$doc])*
        pub struct $name {
            pub scope: StoreScope,
            pub $field: $ty,
        }

        impl std::ops::Deref for $name {
            type Target = StoreScope;

            fn deref(&self) -> &StoreScope {
                &self.scope
            }
        }

        impl FromRequestParts<AppState> for $name {
            type Rejection = ApiError;

            async fn from_request_parts(
                parts: &mut Parts,
                state: &AppState,
            ) -> Result<Self, Self::Rejection> {
                let $scope = StoreScope::from_request_parts(parts, state).await?;
                let $id = path_param(parts, state, $param).await?;
                let $field = $read;
                Ok($name { scope: $scope, $field })
            }
        }
    };
}

scope_of_one!(
    /// A request about one customer of a store (`…/customers/{customer}…`):
    /// the form of the id is checked, not whether the customer exists (a
    /// profile PUT makes them).
    CustomerScope { customer: String }, "customer", |scope, id| {
        if !is_valid_id(&id) {
            return Err(ApiError::field("customer", ID_RULE));
        }
        id
    }
);

scope_of_one!(
    /// A request about one install of a store (`…/installs/{install}…`),
    /// read: another store's install, or none, is 404.
    InstallScope { install: Install }, "install", |scope, id| {
        let mut conn = scope.conn().await?;
        installs::get(&mut conn, &scope.store, &id)
            .await?
            .ok_or_else(|| ApiError::not_found(format!("install `{id}` not found")))?
    }
);

/// The console session cookie's name (see `session`).
pub const COOKIE: &str = "clientele_session";

/// Whether a request carries a session cookie at all (a credential that,
/// when it does not match, counts as a failed sign-in).
pub fn carries_session(headers: &axum::http::HeaderMap) -> bool {
    cookie(headers, COOKIE).is_some_and(|v| !v.is_empty())
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
