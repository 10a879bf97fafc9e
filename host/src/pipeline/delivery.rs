//! Outbox delivery: every queued message leaves through its store's sink.
//! - `log` (the default): the message is written to the log and counts
//!   as delivered;
//! - `webhook`: an HTTP POST of the message as JSON (`https://` over TLS,
//!   rustls, trusting the platform's roots and the CAs of
//!   `--webhook-ca-file`, the certificate checked against the URL's host),
//!   signed with HMAC-SHA256 over the body (`X-Clientele-Signature:
//!   sha256=<hex>`), retried with exponential backoff until `delivered`
//!   or, after the last attempt, `failed`.
//!
//! A message changes state only from `queued`, so one is never delivered
//! twice by this worker; a receiver can de-duplicate retries by the
//! `X-Clientele-Message-Id` header.

use std::collections::HashMap;
use std::sync::Arc;
use std::time::Duration;

use hmac::{Hmac, Mac};
use serde::{Deserialize, Serialize};
use serde_json::json;
use sha2::Sha256;

use super::cluster::Cluster;
use super::destinations::{Checked, Destinations};
use super::{Pipeline, PipelineResult, Signals};
use crate::db::messages::{self, Message};
use crate::db::stores;
use crate::db::Db;
use crate::domain::states::MessageState;
use crate::domain::time::{now_ms, to_rfc3339};
use crate::metrics::Metrics;

/// Attempts before a message is `failed`.
pub const MAX_ATTEMPTS: i64 = 6;

/// How a store's messages leave: `{"kind": "log"}`, or
/// `{"kind": "webhook", "url": "https://…", "secret": "…"}` (the secret
/// signs each body and is shown masked).
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize, utoipa::ToSchema)]
#[serde(tag = "kind", rename_all = "snake_case", deny_unknown_fields)]
pub enum Delivery {
    Log,
    Webhook {
        /// An `http://` or `https://` URL.
        #[schema(
            max_length = 2000,
            pattern = "^[Hh][Tt][Tt][Pp][Ss]?://",
            example = "https://hooks.example.com/clientele"
        )]
        url: String,
        /// At least 16 characters; shown as `********`.
        #[schema(min_length = 16)]
        secret: String,
    },
}

/// A store's delivery as it is shown: the secret masked.
#[derive(Debug, Clone, PartialEq, Serialize, utoipa::ToSchema)]
#[serde(tag = "kind", rename_all = "snake_case")]
pub enum DeliveryView {
    Log,
    Webhook {
        url: String,
        /// Always `********`.
        secret: String,
    },
}

impl Delivery {
    /// `log` or `webhook`.
    pub fn kind(&self) -> &'static str {
        match self {
            Delivery::Log => "log",
            Delivery::Webhook { .. } => "webhook",
        }
    }

    /// The settings as shown to the merchant (the secret masked).
    pub fn public(&self) -> DeliveryView {
        match self {
            Delivery::Log => DeliveryView::Log,
            Delivery::Webhook { url, .. } => {
                DeliveryView::Webhook { url: url.clone(), secret: "********".into() }
            }
        }
    }
}

/// `sha256=<hex>` of HMAC-SHA256(secret, body).
pub fn signature(secret: &str, body: &[u8]) -> String {
    let mut mac = Hmac::<Sha256>::new_from_slice(secret.as_bytes()).expect("any key length");
    mac.update(body);
    format!("sha256={}", hex::encode(mac.finalize().into_bytes()))
}

/// The wait before attempt `attempts + 1` after `attempts` failed:
/// `first`, doubling each time, at most 5 minutes.
pub fn backoff_ms(first: Duration, attempts: i64) -> i64 {
    ((first.as_millis() as i64) << (attempts - 1).clamp(0, 16)).min(300_000)
}

/// The client webhooks leave through: TLS by rustls with the platform's
/// roots and `extra` CAs, no redirects, 10 s per request; `pin` sends the
/// host's connections to the address that was checked (TLS still checks
/// the certificate against the host's name).
pub fn webhook_client(
    extra: &[reqwest::Certificate],
    pin: Option<(&str, std::net::SocketAddr)>,
) -> Result<reqwest::Client, String> {
    let mut b = reqwest::Client::builder()
        .use_rustls_tls()
        .timeout(Duration::from_secs(10))
        .redirect(reqwest::redirect::Policy::none());
    for ca in extra {
        b = b.add_root_certificate(ca.clone());
    }
    if let Some((host, addr)) = pin {
        b = b.resolve(host, addr);
    }
    b.build().map_err(|e| format!("the webhook client could not be made: {}", chain(&e)))
}

/// An error and its causes, one after the other (a TLS failure is three
/// levels down a request's error).
fn chain(e: &dyn std::error::Error) -> String {
    let mut out = e.to_string();
    let mut cause = e.source();
    while let Some(c) = cause {
        let text = c.to_string();
        if !out.contains(&text) {
            out.push_str(": ");
            out.push_str(&text);
        }
        cause = c.source();
    }
    out
}

/// The delivery worker's part of the pipeline.
pub(crate) struct Outbox {
    pub db: Db,
    pub destinations: Arc<Destinations>,
    /// CAs trusted for webhooks beside the platform's (`--webhook-ca-file`).
    pub roots: Arc<Vec<reqwest::Certificate>>,
    /// The wait after a delivery's first failure (it doubles after each).
    pub first_retry: Duration,
    pub metrics: Arc<Metrics>,
    pub cluster: Arc<Cluster>,
    pub signals: Arc<Signals>,
}

impl Pipeline {
    /// Wakes the delivery worker.
    pub fn wake_outbox(&self) {
        self.signals.outbox.notify_one();
    }
}

impl Outbox {
    pub(super) async fn run(self) {
        let http = webhook_client(&self.roots, None).expect("the webhook client");
        loop {
            match self.deliver_due(&http).await {
                Ok(0) => {
                    let _ = tokio::time::timeout(
                        Duration::from_millis(500),
                        self.signals.outbox.notified(),
                    )
                    .await;
                }
                Ok(_) => {}
                Err(e) => match super::outage_pause(&self.db, &e) {
                    Some(pause) => tokio::time::sleep(pause).await,
                    None => {
                        tracing::error!(error = %e, "outbox delivery failed; retrying in 1 s");
                        tokio::time::sleep(Duration::from_secs(1)).await;
                    }
                },
            }
        }
    }

    async fn deliver_due(&self, http: &reqwest::Client) -> PipelineResult<usize> {
        // One node delivers at a time, so a message leaves once.
        if !self.cluster.hold(super::cluster::DELIVERY).await? {
            return Ok(0);
        }
        let now = now_ms();
        let due = {
            let mut conn = self.db.pool.acquire().await?;
            messages::due(&mut conn, now, 100).await?
        };
        let mut sinks: HashMap<String, Delivery> = HashMap::new();
        for (store, m) in &due {
            if !sinks.contains_key(store) {
                let mut conn = self.db.pool.acquire().await?;
                let d = stores::delivery(&mut conn, store)
                    .await?
                    .and_then(|v| serde_json::from_value(v).ok())
                    .unwrap_or(Delivery::Log);
                sinks.insert(store.clone(), d);
            }
            let outcome = match &sinks[store] {
                Delivery::Log => {
                    tracing::info!(store, message = %m.id, customer = %m.customer_id,
                        channel = %m.channel, template = %m.template, vars = %m.vars,
                        "message delivered to the log");
                    Ok(())
                }
                Delivery::Webhook { url, secret } => {
                    post(http, &self.destinations, &self.roots, url, secret, store, m).await
                }
            };
            let now = now_ms();
            let mut conn = self.db.write_conn().await?;
            match outcome {
                Ok(()) => {
                    messages::record_attempt(
                        &mut conn,
                        &m.id,
                        MessageState::Delivered,
                        None,
                        None,
                        now,
                    )
                    .await?;
                    self.metrics.messages_delivered.increment(1);
                }
                Err(error) => {
                    let attempts = m.attempts + 1;
                    if attempts >= MAX_ATTEMPTS {
                        tracing::warn!(store, message = %m.id, attempts, %error,
                            "message failed for good; check the store's webhook");
                        messages::record_attempt(
                            &mut conn,
                            &m.id,
                            MessageState::Failed,
                            Some(&error),
                            None,
                            now,
                        )
                        .await?;
                        self.metrics.messages_failed.increment(1);
                    } else {
                        let retry_at = now + backoff_ms(self.first_retry, attempts);
                        tracing::info!(store, message = %m.id, attempts, %error,
                            retry_in_ms = retry_at - now, "message delivery failed; will retry");
                        messages::record_attempt(
                            &mut conn,
                            &m.id,
                            MessageState::Queued,
                            Some(&error),
                            Some(retry_at),
                            now,
                        )
                        .await?;
                    }
                }
            }
        }
        Ok(due.len())
    }
}

async fn post(
    http: &reqwest::Client,
    destinations: &Destinations,
    roots: &[reqwest::Certificate],
    url: &str,
    secret: &str,
    store: &str,
    m: &Message,
) -> Result<(), String> {
    let body = serde_json::to_vec(&json!({
        "id": m.id, "store_id": store, "customer_id": m.customer_id,
        "channel": m.channel, "template": m.template, "vars": m.vars,
        "flow_id": m.flow_id, "step": m.step, "created_at": to_rfc3339(m.created_at),
    }))
    .map_err(|e| e.to_string())?;
    // The connection goes to the address that was checked, not to
    // whatever the name resolves to a moment later.
    let pinned;
    let http = match destinations.resolve(url).await? {
        Checked { host, addr: Some(addr) } => {
            pinned = webhook_client(roots, Some((&host, addr)))?;
            &pinned
        }
        Checked { addr: None, .. } => http,
    };
    let response = http
        .post(url)
        .header("content-type", "application/json")
        .header("x-clientele-signature", signature(secret, &body))
        .header("x-clientele-message-id", &m.id)
        .body(body)
        .send()
        .await
        .map_err(|e| format!("POST {url}: {}", chain(&e)))?;
    if response.status().is_success() {
        Ok(())
    } else {
        Err(format!("POST {url} answered {}", response.status()))
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn hmac_sha256_matches_rfc_4231_case_2() {
        // Key "Jefe", data "what do ya want for nothing?".
        assert_eq!(
            signature("Jefe", b"what do ya want for nothing?"),
            "sha256=5bdcc146bf60754e6a042426089575c75a003f089d2739839dec58b964ec3843"
        );
    }

    #[test]
    fn backoff_doubles_up_to_five_minutes() {
        let first = Duration::from_secs(1);
        assert_eq!(backoff_ms(first, 1), 1000);
        assert_eq!(backoff_ms(first, 2), 2000);
        assert_eq!(backoff_ms(first, 5), 16000);
        assert_eq!(backoff_ms(first, 20), 300_000);
    }

    #[test]
    fn delivery_settings_parse() {
        let d: Delivery =
            serde_json::from_value(json!({"kind": "webhook", "url": "http://x", "secret": "s"}))
                .unwrap();
        assert_eq!(serde_json::to_value(d.public()).unwrap()["secret"], "********");
        assert!(serde_json::from_value::<Delivery>(json!({"kind": "smtp"})).is_err());
    }
}
