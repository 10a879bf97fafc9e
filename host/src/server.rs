//! Starting the service: data directory, database, runtime, workers, HTTP.
//! Used by `clientele serve`, the demo, the benchmarks and the tests.

use std::net::SocketAddr;
use std::path::{Path, PathBuf};
use std::sync::Arc;

use anyhow::Context;
use tokio::net::TcpListener;

use crate::api::{self, AppState};
use crate::db::Db;
use crate::domain::ids::random_token;
use crate::domain::manifest::Limits;
use crate::pipeline::{Pipeline, PipelineConfig};
use crate::runtime::Runtime;

#[derive(Debug, Clone)]
pub struct ServerConfig {
    pub data_dir: PathBuf,
    /// `None`: the embedded SQLite file in the data directory.
    pub database_url: Option<String>,
    pub listen: SocketAddr,
    /// `None`: `CLIENTELE_ADMIN_TOKEN`, else the one kept in the data dir.
    pub admin_token: Option<String>,
    pub max_limits: Limits,
    pub pipeline: PipelineConfig,
    /// `None`: the one kept in the data directory (made up once).
    pub node_id: Option<String>,
    /// Where `/metrics` is also served without a token (None: only on
    /// `listen`, to the admin token).
    pub metrics_listen: Option<SocketAddr>,
    /// The console signs in over plain HTTP from other machines too.
    pub insecure_http: bool,
    /// A PEM bundle of CAs that webhooks' TLS trusts beside the
    /// platform's roots.
    pub webhook_ca_file: Option<PathBuf>,
}

impl ServerConfig {
    pub fn new(data_dir: impl Into<PathBuf>) -> Self {
        ServerConfig {
            data_dir: data_dir.into(),
            database_url: None,
            listen: "127.0.0.1:0".parse().expect("valid address"),
            admin_token: None,
            max_limits: Limits::HOST_MAX,
            pipeline: PipelineConfig::default(),
            node_id: None,
            metrics_listen: None,
            insecure_http: false,
            webhook_ca_file: None,
        }
    }
}

pub struct Running {
    pub addr: SocketAddr,
    /// Where `/metrics` is served without a token, if anywhere.
    pub metrics_addr: Option<SocketAddr>,
    pub admin_token: String,
    pub pipeline: Pipeline,
    pub task: tokio::task::JoinHandle<()>,
    /// Ends the HTTP server's accept loop (in-flight requests finish).
    stop_http: tokio::sync::watch::Sender<bool>,
}

impl Running {
    /// A clean stop: no new requests or work, the units of work under way
    /// finish (or roll back after a grace period), every lease is given
    /// up for the other nodes, and the SQLite log is truncated.
    pub async fn shutdown(self) {
        let _ = self.stop_http.send(true);
        let _ = tokio::time::timeout(std::time::Duration::from_secs(10), self.task).await;
        self.pipeline.stop_gracefully(std::time::Duration::from_secs(10)).await;
        if let Err(e) = self.pipeline.cluster.leave().await {
            tracing::warn!(error = %e, "could not give up this node's leases; they lapse on their own");
        }
        if let Err(e) = self.pipeline.db.truncate_log().await {
            tracing::warn!(error = %e, "could not truncate the write-ahead log");
        }
        self.pipeline.db.pool.close().await;
        tracing::info!(node = %self.pipeline.cluster.node_id, "stopped");
    }
}

/// The node's id: given, or kept in the data directory (made up on the
/// first start there), so a node restarted on its data directory takes
/// its own leases back at once instead of waiting for them to lapse.
fn node_id(data_dir: &Path, given: Option<String>) -> anyhow::Result<String> {
    if let Some(id) = given.filter(|t| !t.trim().is_empty()) {
        return Ok(id.trim().to_string());
    }
    let path = data_dir.join("node-id");
    if let Ok(id) = std::fs::read_to_string(&path) {
        if !id.trim().is_empty() {
            return Ok(id.trim().to_string());
        }
    }
    let id = format!("node-{}", &random_token()[..8]);
    std::fs::write(&path, &id).with_context(|| format!("writing {}", path.display()))?;
    Ok(id)
}

/// The admin token: given, or read from the data directory, or created
/// there (and printed once, since nobody else can know it).
fn admin_token(data_dir: &Path, given: Option<String>) -> anyhow::Result<String> {
    if let Some(t) = given.filter(|t| !t.is_empty()) {
        return Ok(t);
    }
    let path = data_dir.join("admin-token");
    if let Ok(t) = std::fs::read_to_string(&path) {
        return Ok(t.trim().to_string());
    }
    let token = format!("ca_{}", random_token());
    std::fs::write(&path, &token).with_context(|| format!("writing {}", path.display()))?;
    #[cfg(unix)]
    {
        use std::os::unix::fs::PermissionsExt;
        let _ = std::fs::set_permissions(&path, std::fs::Permissions::from_mode(0o600));
    }
    println!("admin token (kept in {}): {token}", path.display());
    Ok(token)
}

/// The CAs of a PEM bundle, for webhooks' TLS.
fn webhook_roots(path: &Path) -> anyhow::Result<Vec<reqwest::Certificate>> {
    let pem = std::fs::read(path)
        .with_context(|| format!("reading the webhook CA file {}", path.display()))?;
    let roots = reqwest::Certificate::from_pem_bundle(&pem)
        .with_context(|| format!("{} is not a PEM bundle of certificates", path.display()))?;
    anyhow::ensure!(!roots.is_empty(), "{} holds no certificate", path.display());
    tracing::info!(file = %path.display(), certificates = roots.len(), "webhook CAs added");
    Ok(roots)
}

/// Connects and migrates the database.
pub async fn open_db(config: &ServerConfig) -> anyhow::Result<Db> {
    std::fs::create_dir_all(&config.data_dir)
        .with_context(|| format!("creating data directory {}", config.data_dir.display()))?;
    let url = config.database_url.clone().unwrap_or_else(|| Db::sqlite_url(&config.data_dir));
    // Every event worker may hold a connection; intake, reads and the
    // other workers need theirs.
    let connections = config.pipeline.workers as u32 + 8;
    let db = Db::connect(&url, connections).await.context("opening the database")?;
    db.migrate().await.context("running migrations")?;
    Ok(db)
}

/// Loads every installed plugin before serving, from the precompiled
/// artifacts: the first event after a restart pays nothing.
async fn preload(pipeline: &Pipeline) -> anyhow::Result<()> {
    let versions = {
        let mut conn = pipeline.db.pool.acquire().await?;
        crate::db::installs::enabled_versions(&mut conn).await?
    };
    for (name, version) in versions {
        if let Err(e) = pipeline.plugin(&name, &version).await {
            tracing::error!(plugin = %name, %version, error = %e, "installed plugin cannot be loaded; its installs will report failures");
        }
    }
    Ok(())
}

/// Starts everything and serves until the task is dropped or aborted.
pub async fn start(config: ServerConfig) -> anyhow::Result<Running> {
    let db = open_db(&config).await?;
    let token = admin_token(
        &config.data_dir,
        config.admin_token.clone().or_else(|| std::env::var("CLIENTELE_ADMIN_TOKEN").ok()),
    )?;
    let runtime = Arc::new(
        Runtime::new(&config.data_dir.join("artifacts"), config.max_limits)
            .context("starting the wasm runtime")?,
    );
    let mut pipeline_config = config.pipeline.clone();
    if let Some(path) = &config.webhook_ca_file {
        pipeline_config.webhook_roots.extend(webhook_roots(path)?);
    }
    pipeline_config.node_id = node_id(&config.data_dir, config.node_id.clone())?;
    let pipeline = Pipeline::new(db, runtime, pipeline_config);
    preload(&pipeline).await?;
    pipeline.backfill_activity().await.context("building retention activity")?;
    pipeline.cluster.join().await.context("registering this node")?;
    pipeline.spawn_workers();
    let mut state = AppState::new(pipeline.clone(), &token);
    state.insecure_http = config.insecure_http;
    let listener = TcpListener::bind(config.listen)
        .await
        .with_context(|| format!("listening on {}", config.listen))?;
    let addr = listener.local_addr()?;
    let (stop_http, stopping) = tokio::sync::watch::channel(false);
    let metrics_addr = match config.metrics_listen {
        Some(at) => {
            let listener = TcpListener::bind(at)
                .await
                .with_context(|| format!("listening for metrics on {at}"))?;
            let metrics_addr = listener.local_addr()?;
            tokio::spawn(serve(listener, api::metrics_app(state.clone()), stopping.clone()));
            tracing::info!(addr = %metrics_addr, "metrics served without a token");
            Some(metrics_addr)
        }
        None => None,
    };
    let app = api::app(crate::console::routes(), state)
        .layer(tower_http::trace::TraceLayer::new_for_http());
    let task = tokio::spawn(serve(listener, app, stopping));
    tracing::info!(%addr, node = %pipeline.cluster.node_id, database = pipeline.db.backend.name(),
        data_dir = %config.data_dir.display(), "clientele is serving");
    Ok(Running { addr, metrics_addr, admin_token: token, pipeline, task, stop_http })
}

/// Serves `app` on `listener` until `stopping` turns true; each request
/// knows the address it came from (for counting failed sign-ins).
async fn serve(
    listener: TcpListener,
    app: axum::Router,
    mut stopping: tokio::sync::watch::Receiver<bool>,
) {
    let stop = async move {
        let _ = stopping.wait_for(|s| *s).await;
    };
    let app = app.into_make_service_with_connect_info::<SocketAddr>();
    if let Err(e) = axum::serve(listener, app).with_graceful_shutdown(stop).await {
        tracing::error!(error = %e, "HTTP server stopped");
    }
}
