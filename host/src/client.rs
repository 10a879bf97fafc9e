//! A small client of the HTTP API, shared by `clientele demo`, the
//! benchmarks and the end-to-end tests, so that a request (above all the
//! multipart publish) is written once.

use anyhow::bail;
use reqwest::{Method, StatusCode};
use serde_json::Value;

#[derive(Clone)]
pub struct ApiClient {
    pub base: String,
    pub http: reqwest::Client,
}

/// An answer: status, content type and body (JSON, or the text as a
/// JSON string when it is not JSON).
#[derive(Debug)]
pub struct Reply {
    pub method: Method,
    /// The path asked for, without the query string.
    pub path: String,
    pub status: StatusCode,
    pub content_type: String,
    pub body: Value,
}

impl Reply {
    /// The body of a 2xx answer; any other is an error naming the request.
    pub fn ok(self) -> anyhow::Result<Value> {
        if !self.status.is_success() {
            bail!("{} {}: {} {}", self.method, self.path, self.status, self.body);
        }
        Ok(self.body)
    }

    /// The fields a problem+json answer names, in order.
    pub fn fields(&self) -> Vec<String> {
        self.body["errors"]
            .as_array()
            .map(|errors| {
                errors.iter().map(|e| e["field"].as_str().unwrap_or_default().to_string()).collect()
            })
            .unwrap_or_default()
    }
}

impl ApiClient {
    /// A client of the server at `base` (`http://127.0.0.1:8080`).
    pub fn new(base: impl Into<String>) -> Self {
        ApiClient { base: base.into(), http: reqwest::Client::new() }
    }

    pub async fn call(
        &self,
        method: Method,
        path: &str,
        token: &str,
        body: Option<&Value>,
    ) -> anyhow::Result<Reply> {
        let mut req =
            self.http.request(method.clone(), format!("{}{path}", self.base)).bearer_auth(token);
        if let Some(b) = body {
            req = req.json(b);
        }
        Self::reply(method, req.send().await?).await
    }

    pub async fn get(&self, path: &str, token: &str) -> anyhow::Result<Reply> {
        self.call(Method::GET, path, token, None).await
    }

    pub async fn post(&self, path: &str, token: &str, body: &Value) -> anyhow::Result<Reply> {
        self.call(Method::POST, path, token, Some(body)).await
    }

    pub async fn put(&self, path: &str, token: &str, body: &Value) -> anyhow::Result<Reply> {
        self.call(Method::PUT, path, token, Some(body)).await
    }

    pub async fn patch(&self, path: &str, token: &str, body: &Value) -> anyhow::Result<Reply> {
        self.call(Method::PATCH, path, token, Some(body)).await
    }

    /// Publishes a plugin version: its `plugin.toml` text and component.
    pub async fn publish(
        &self,
        admin: &str,
        manifest: &str,
        component: Vec<u8>,
    ) -> anyhow::Result<Reply> {
        let form = reqwest::multipart::Form::new()
            .text("manifest", manifest.to_string())
            .part("component", reqwest::multipart::Part::bytes(component).file_name("plugin.wasm"));
        let resp = self
            .http
            .post(format!("{}/v1/plugins", self.base))
            .bearer_auth(admin)
            .multipart(form)
            .send()
            .await?;
        Self::reply(Method::POST, resp).await
    }

    /// Reads an answer whatever its status.
    pub async fn reply(method: Method, resp: reqwest::Response) -> anyhow::Result<Reply> {
        let status = resp.status();
        let path = resp.url().path().to_string();
        let content_type = resp
            .headers()
            .get(reqwest::header::CONTENT_TYPE)
            .and_then(|v| v.to_str().ok())
            .unwrap_or("")
            .to_string();
        let text = resp.text().await?;
        let body = serde_json::from_str(&text).unwrap_or(Value::String(text));
        Ok(Reply { method, path, status, content_type, body })
    }
}
