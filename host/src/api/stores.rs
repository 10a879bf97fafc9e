use axum::extract::State;
use axum::http::StatusCode;
use axum::Json;
use serde::{Deserialize, Serialize};
use utoipa::ToSchema;

use super::auth::{key_hash, Caller, StoreScope};
use super::params::StorePath;
use super::valid::Valid;
use super::{ApiError, AppState};
use crate::db::stores::{self, Store};
use crate::domain::ids::{is_valid_id, random_token, ID_RULE};
use crate::domain::time::{now_ms, to_rfc3339};

/// A new store. Only `id` is required.
#[derive(Deserialize, ToSchema)]
#[serde(deny_unknown_fields)]
pub struct NewStore {
    #[schema(
        pattern = r"^([A-Za-z0-9_:-][A-Za-z0-9._:-]{0,63}|\.[A-Za-z0-9_:-][A-Za-z0-9._:-]{0,62}|\.\.[A-Za-z0-9._:-]{1,62})$",
        example = "acme"
    )]
    pub id: String,
    /// Shown in the console; the id when absent.
    #[schema(min_length = 1, max_length = 200, example = "Acme Tea")]
    pub name: Option<String>,
    /// ISO 4217; `USD` when absent.
    #[schema(pattern = "^[A-Z]{3}$", example = "CNY")]
    pub currency: Option<String>,
    /// IANA time zone that day boundaries are counted in; `UTC` when absent.
    #[schema(schema_with = super::schemas::timezone)]
    pub timezone: Option<String>,
}

/// A store as listed.
#[derive(Serialize, ToSchema)]
pub struct StoreView {
    pub id: String,
    pub name: String,
    pub currency: String,
    pub timezone: String,
    #[schema(format = DateTime)]
    pub created_at: String,
}

/// A store just created, with its API key (shown this once).
#[derive(Serialize, ToSchema)]
pub struct StoreCreated {
    pub id: String,
    pub name: String,
    pub currency: String,
    pub timezone: String,
    /// The store's own key: send it as `Authorization: Bearer <api_key>`.
    pub api_key: String,
}

/// Create a store (admin); returns its API key
#[utoipa::path(post, path = "/v1/stores", operation_id = "createStore", tag = "stores", request_body = NewStore,
    responses((status = 201, body = StoreCreated)))]
pub async fn create(
    State(state): State<AppState>,
    caller: Caller,
    Valid(body): Valid<NewStore>,
) -> Result<(StatusCode, Json<StoreCreated>), ApiError> {
    caller.require_admin()?;
    if !is_valid_id(&body.id) {
        return Err(ApiError::field("id", ID_RULE));
    }
    let timezone = body.timezone.unwrap_or_else(|| "UTC".into());
    if timezone.parse::<chrono_tz::Tz>().is_err() {
        return Err(ApiError::field(
            "timezone",
            "must be an IANA time zone such as Asia/Shanghai or UTC",
        ));
    }
    let store = Store {
        name: body.name.unwrap_or_else(|| body.id.clone()),
        id: body.id,
        currency: body.currency.unwrap_or_else(|| "USD".into()),
        timezone,
        created_at: now_ms(),
    };
    let api_key = format!("ck_{}", random_token());
    state.pipeline.create_store(&store, &key_hash(&api_key)).await?;
    Ok((
        StatusCode::CREATED,
        Json(StoreCreated {
            id: store.id,
            name: store.name,
            currency: store.currency,
            timezone: store.timezone,
            api_key,
        }),
    ))
}

/// List stores (admin)
#[utoipa::path(get, path = "/v1/stores", operation_id = "listStores", tag = "stores",
    responses((status = 200, body = Vec<StoreView>)))]
pub async fn list(
    State(state): State<AppState>,
    caller: Caller,
) -> Result<Json<Vec<StoreView>>, ApiError> {
    caller.require_admin()?;
    let mut conn = state.pipeline.db.pool.acquire().await?;
    let list = stores::list(&mut conn).await?.into_iter().map(StoreView::from).collect();
    Ok(Json(list))
}

impl From<Store> for StoreView {
    fn from(s: Store) -> StoreView {
        StoreView {
            id: s.id,
            name: s.name,
            currency: s.currency,
            timezone: s.timezone,
            created_at: to_rfc3339(s.created_at),
        }
    }
}

/// One store: its name, currency and time zone (its own key, or admin)
#[utoipa::path(get, path = "/v1/stores/{store}", operation_id = "getStore", tag = "stores",
    params(StorePath), responses((status = 200, body = StoreView)))]
pub async fn get(scope: StoreScope) -> Result<Json<StoreView>, ApiError> {
    let mut conn = scope.conn().await?;
    let store = stores::get(&mut conn, &scope.store)
        .await?
        .ok_or_else(|| ApiError::not_found(format!("store `{}` not found", scope.store)))?;
    Ok(Json(store.into()))
}

/// A store's new API key (shown this once).
#[derive(Serialize, ToSchema)]
pub struct KeyRotated {
    pub id: String,
    /// The store's new key; the old one stops working at once on this
    /// node and within 5 s on every other.
    pub api_key: String,
    /// Console sessions of the store that were ended.
    pub sessions_ended: u64,
}

/// Rotate the store's API key (its own key, or admin)
///
/// The old key stops working, and every console session opened with it
/// ends, on every node.
#[utoipa::path(post, path = "/v1/stores/{store}/key", operation_id = "rotateStoreKey", tag = "stores",
    params(StorePath), responses((status = 200, body = KeyRotated)))]
pub async fn rotate_key(
    State(state): State<AppState>,
    scope: StoreScope,
) -> Result<Json<KeyRotated>, ApiError> {
    let api_key = format!("ck_{}", random_token());
    let mut tx = state.pipeline.db.begin_store(&scope.store).await?;
    stores::set_api_key(&mut tx, &scope.store, &key_hash(&api_key)).await?;
    let sessions_ended = crate::db::sessions::end_store(&mut tx, &scope.store).await?;
    tx.commit().await?;
    state.keys.forget_store(&scope.store);
    tracing::info!(store = %scope.store, by = scope.actor, sessions_ended, "store key rotated");
    Ok(Json(KeyRotated { id: scope.store.clone(), api_key, sessions_ended }))
}
