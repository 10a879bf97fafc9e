//! How a store's messages leave: the log (default) or a signed webhook;
//! and the outbox itself.

use axum::body::Bytes;
use axum::extract::rejection::BytesRejection;
use axum::Json;

use super::auth::StoreScope;
use super::params::StorePath;
use super::{json_body, ApiError};
use crate::db::messages::{self, Message};
use crate::db::stores;
use crate::pipeline::delivery::{Delivery, DeliveryView};

/// How the store's messages leave
#[utoipa::path(get, path = "/v1/stores/{store}/delivery", operation_id = "getDelivery", tag = "messages",
    params(StorePath), responses((status = 200, body = DeliveryView)))]
pub async fn get(scope: StoreScope) -> Result<Json<DeliveryView>, ApiError> {
    let mut conn = scope.conn().await?;
    let d = stores::delivery(&mut conn, &scope.store)
        .await?
        .and_then(|v| serde_json::from_value::<Delivery>(v).ok())
        .unwrap_or(Delivery::Log);
    Ok(Json(d.public()))
}

/// Set the delivery sink: {kind: log} or {kind: webhook, url, secret}
#[utoipa::path(put, path = "/v1/stores/{store}/delivery", operation_id = "putDelivery", tag = "messages",
    params(StorePath), request_body = Delivery, responses((status = 200, body = DeliveryView)))]
pub async fn put(
    scope: StoreScope,
    body: Result<Bytes, BytesRejection>,
) -> Result<Json<DeliveryView>, ApiError> {
    // Read by serde rather than the schema: for a choice of shapes its
    // message ("unknown variant `smtp`") says more than "matches none".
    let d: Delivery = serde_json::from_value(json_body(body)?).map_err(|e| {
        ApiError::field(
            "kind",
            format!("{e}; send {{\"kind\":\"log\"}} or {{\"kind\":\"webhook\",\"url\":\"https://…\",\"secret\":\"…\"}}"),
        )
    })?;
    if let Delivery::Webhook { url, secret } = &d {
        let scheme = url.get(..8).unwrap_or(url).to_ascii_lowercase();
        let web = scheme.starts_with("http://") || scheme.starts_with("https://");
        if !web || url.chars().count() > 2000 {
            return Err(ApiError::field("url", "must be an http:// or https:// URL"));
        }
        if secret.chars().count() < 16 {
            return Err(ApiError::field("secret", "must be at least 16 characters"));
        }
    }
    scope.pipeline.set_delivery(&scope.store, &d).await?;
    Ok(Json(d.public()))
}

/// The outbox
#[utoipa::path(get, path = "/v1/stores/{store}/messages", operation_id = "listMessages", tag = "messages",
    params(StorePath), responses((status = 200, body = Vec<Message>)))]
pub async fn outbox(scope: StoreScope) -> Result<Json<Vec<Message>>, ApiError> {
    let mut conn = scope.conn().await?;
    Ok(Json(messages::list(&mut conn, &scope.store, 10_000).await?))
}
