use std::net::SocketAddr;
use std::path::PathBuf;

use clap::{Parser, Subcommand};
use clientele::server::{self, ServerConfig};

mod bench;
mod demo;

/// The process allocator. A batch allocates and frees many small values
/// (rows, JSON, call arguments) from several threads; glibc's malloc took
/// 15 % of the cores under load, most of it in locking and consolidation.
#[global_allocator]
static ALLOCATOR: mimalloc::MiMalloc = mimalloc::MiMalloc;

#[derive(Parser)]
#[command(
    name = "clientele",
    version,
    about = "WebAssembly plugin runtime for the customer side of online shops"
)]
struct Cli {
    #[command(subcommand)]
    command: Command,
}

#[derive(Subcommand)]
enum Command {
    /// Serve the HTTP API (embedded SQLite in the data directory by default).
    Serve {
        #[arg(long, env = "CLIENTELE_DATA_DIR", default_value = "./clientele-data")]
        data_dir: PathBuf,
        /// Another database instead of the embedded one.
        #[arg(long, env = "DATABASE_URL")]
        database_url: Option<String>,
        #[arg(long, env = "CLIENTELE_LISTEN", default_value = "127.0.0.1:8080")]
        listen: SocketAddr,
        /// Refit every store's population models this often, in seconds
        /// (0: only on POST /v1/stores/{store}/models/fit).
        #[arg(long, env = "CLIENTELE_FIT_EVERY", default_value_t = 86_400)]
        fit_every: u64,
        /// Event workers; each serves one store at a time (default: two
        /// per core, at least four).
        #[arg(long, env = "CLIENTELE_WORKERS")]
        workers: Option<usize>,
        /// A host that store webhooks may point at although it is not a
        /// public address (repeat, or comma-separate in the variable).
        #[arg(
            long = "allow-webhook-host",
            env = "CLIENTELE_WEBHOOK_ALLOW_HOSTS",
            value_delimiter = ','
        )]
        allow_webhook_host: Vec<String>,
        /// This node's name among the nodes on one database (default: the
        /// one kept in the data directory, made up on first start).
        #[arg(long, env = "CLIENTELE_NODE_ID")]
        node_id: Option<String>,
        /// Milliseconds a node's leases last without its heartbeat: how
        /// soon the other nodes take over the work of a node that died.
        #[arg(long, env = "CLIENTELE_LEASE_TTL_MS", default_value_t = 5_000)]
        lease_ttl_ms: u64,
        /// Pending events past which `POST …/events` answers 429 with
        /// Retry-After instead of taking more.
        #[arg(long, env = "CLIENTELE_MAX_PENDING", default_value_t = 500_000)]
        max_pending: i64,
        /// Attempts of a call that failed in a way that may pass (the
        /// backstop deadline, a host error, a plugin error marked
        /// `retryable`), the first included; 1: no retries.
        #[arg(long, env = "CLIENTELE_RETRY_ATTEMPTS", default_value_t = 4)]
        retry_attempts: u32,
        /// Milliseconds before the first retry; each later one waits four
        /// times longer. The customer's later events wait meanwhile.
        #[arg(long, env = "CLIENTELE_RETRY_BACKOFF_MS", default_value_t = 500)]
        retry_backoff_ms: u64,
        /// The most fuel (wasm work) one call may be given, whatever its
        /// manifest asks for.
        #[arg(long, env = "CLIENTELE_MAX_FUEL", default_value_t = clientele::domain::manifest::Limits::HOST_MAX.fuel)]
        max_fuel: u64,
        /// Also serve `GET /metrics` here without a token, for a scraper
        /// (e.g. 127.0.0.1:9464; keep it off the public network). On the
        /// main address `/metrics` needs the admin token.
        #[arg(long, env = "CLIENTELE_METRICS_LISTEN")]
        metrics_listen: Option<SocketAddr>,
        /// Let the console sign in over plain HTTP from other machines
        /// (keys and session cookies then cross the network readable).
        /// Without it, signing in needs HTTPS in front (X-Forwarded-Proto:
        /// https) or a browser on this machine.
        #[arg(long, env = "CLIENTELE_INSECURE_HTTP")]
        insecure_http: bool,
        /// A PEM file of CA certificates that `https://` webhooks trust
        /// beside the platform's roots (receivers with a private CA).
        #[arg(long, env = "CLIENTELE_WEBHOOK_CA_FILE")]
        webhook_ca_file: Option<PathBuf>,
    },
    /// Run the database migrations and exit.
    Migrate {
        #[arg(long, env = "CLIENTELE_DATA_DIR", default_value = "./clientele-data")]
        data_dir: PathBuf,
        #[arg(long, env = "DATABASE_URL")]
        database_url: Option<String>,
    },
    /// Start on a fresh data directory, publish the bundled plugins, create
    /// a store with customers and events, and print what happened.
    Demo {
        /// Where to keep the demo's data (a fresh temporary one by default).
        #[arg(long)]
        data_dir: Option<PathBuf>,
        /// Keep serving when the demo is done (the console shows its store)
        /// until Ctrl-C.
        #[arg(long)]
        serve: bool,
        /// The address to serve on (default: 127.0.0.1:8080 with --serve,
        /// any free port without).
        #[arg(long)]
        listen: Option<std::net::SocketAddr>,
    },
    /// Plugin developer tools.
    Plugin {
        #[command(subcommand)]
        command: PluginCommand,
    },
    /// Write the contract plugins are built against (the WIT package
    /// clientele:crm) into a folder.
    Wit {
        #[arg(long, default_value = "wit")]
        out: PathBuf,
        /// The contract version (default: the newest); every version the
        /// host serves can be written.
        #[arg(long)]
        contract: Option<String>,
    },
    /// Print the HTTP API's OpenAPI document (what GET /openapi.json serves),
    /// for generating clients without a running server.
    Openapi,
    /// Measure per-call latency, end-to-end throughput and cold start.
    Bench {
        /// Events for the throughput run (0: the per-call latency only).
        #[arg(long, default_value_t = 20_000)]
        events: usize,
        /// Calls for the latency run.
        #[arg(long, default_value_t = 20_000)]
        calls: usize,
        /// Instead: the cluster run on this PostgreSQL server (a URL
        /// without a database; a fresh one is made and dropped), or on
        /// SQLite with `--cluster sqlite`.
        #[arg(long)]
        cluster: Option<String>,
        /// Node counts for the cluster run.
        #[arg(long, value_delimiter = ',', default_value = "1,2,3")]
        nodes: Vec<usize>,
        /// Stores for the cluster run (a store is served by one node at a
        /// time).
        #[arg(long, default_value_t = 8)]
        stores: usize,
        /// Customers for the cluster run, made before it (a list: one run
        /// each; default a tenth of the events).
        #[arg(long, value_delimiter = ',')]
        customers: Vec<usize>,
        /// Seconds of the cluster run's paced phase at 80 % of its rate
        /// (intake latency at a load it keeps up with; 0: none).
        #[arg(long, default_value_t = 10)]
        paced_seconds: u64,
        /// The loads of the paced phases, as shares of the measured rate
        /// (a list: one phase each, in order; default 0.8 unless
        /// `--paced-rate` is given).
        #[arg(long, value_delimiter = ',', value_parser = positive)]
        paced_at: Vec<f64>,
        /// Paced phases at these rates (events/s), after those of
        /// `--paced-at`: the same load whatever the measured rate.
        #[arg(long, value_delimiter = ',', value_parser = positive)]
        paced_rate: Vec<f64>,
        /// Instead: the population models' fits over this many customers
        /// (a list: one run each), on SQLite, or on the PostgreSQL server
        /// `--cluster` names.
        #[arg(long, value_delimiter = ',')]
        fits: Vec<usize>,
        /// Instead: retention analytics over this many customers with five
        /// orders each over two years (a list: one run each), on SQLite, or
        /// on the PostgreSQL server `--cluster` names.
        #[arg(long, value_delimiter = ',')]
        retention: Vec<usize>,
        /// Instead: what a new event costs for customers who already have
        /// this many orders each (a list: one run each, e.g.
        /// `1,100,1000,10000`), on SQLite, or on the PostgreSQL server
        /// `--cluster` names; `--customers` of them (default 20).
        #[arg(long, value_delimiter = ',')]
        history: Vec<usize>,
    },
}

#[derive(Subcommand)]
enum PluginCommand {
    /// Make a plugin folder that builds, passes its own unit test and runs
    /// locally out of the box: plugin.toml with a config schema, the
    /// source, a sample event and config, and the contract in wit/.
    New {
        /// The plugin's name ([a-z0-9-]{1,64}); also the folder's.
        name: String,
        /// point-rules, segmenter, survey-scorer, churn-rescue or responder.
        #[arg(long)]
        world: String,
        #[arg(long, value_enum)]
        lang: clientele::devkit::scaffold::Lang,
        /// Where to make the folder (default: here).
        #[arg(long, default_value = ".")]
        dir: PathBuf,
    },
    /// Run a plugin version over a store's recorded events (read from a
    /// server over the API, read-only) into a scratch ledger, and print per
    /// customer where it decides differently from what is live.
    Replay(clientele::devkit::replay::ReplayArgs),
    /// Check, build (a folder) and upload a plugin to a server.
    Publish {
        /// A plugin folder, or a .wasm with its plugin.toml beside it.
        target: PathBuf,
        #[arg(long, env = "CLIENTELE_SERVER", default_value = "http://127.0.0.1:8080")]
        server: String,
        /// The platform admin token.
        #[arg(long, env = "CLIENTELE_ADMIN_TOKEN", hide_env_values = true)]
        token: String,
    },
    /// Build a plugin folder into a component, whatever its language,
    /// after checking its plugin.toml as publishing would.
    Build {
        /// The plugin folder (with plugin.toml).
        dir: PathBuf,
        /// Where to write the component.
        #[arg(short, long)]
        out: Option<PathBuf>,
    },
    /// Run a plugin on events locally, with no server, exactly as the host
    /// would: same sandbox, limits and output checks. Prints each
    /// decision, what the plugin logged and printed, its time, fuel and
    /// memory; exits 1 if a call failed.
    Run(clientele::devkit::run::RunArgs),
}

/// A load for a paced phase: a positive, finite number (a zero rate
/// would never send).
fn positive(s: &str) -> Result<f64, String> {
    match s.trim().parse::<f64>() {
        Ok(x) if x.is_finite() && x > 0.0 => Ok(x),
        _ => Err(format!("`{s}` is not a positive number; leave the phase out, or use --paced-seconds 0 for none")),
    }
}

fn init_tracing() {
    use tracing_subscriber::EnvFilter;
    let filter =
        EnvFilter::try_from_env("CLIENTELE_LOG").unwrap_or_else(|_| EnvFilter::new("info"));
    if std::env::var("CLIENTELE_LOG_FORMAT").as_deref() == Ok("json") {
        tracing_subscriber::fmt().with_env_filter(filter).json().init();
    } else {
        tracing_subscriber::fmt().with_env_filter(filter).init();
    }
}

#[tokio::main]
async fn main() -> anyhow::Result<()> {
    let cli = Cli::parse();
    match cli.command {
        Command::Serve {
            data_dir,
            database_url,
            listen,
            fit_every,
            workers,
            allow_webhook_host,
            node_id,
            lease_ttl_ms,
            max_pending,
            retry_attempts,
            retry_backoff_ms,
            max_fuel,
            metrics_listen,
            insecure_http,
            webhook_ca_file,
        } => {
            init_tracing();
            let mut config = ServerConfig::new(data_dir);
            config.database_url = database_url;
            config.listen = listen;
            config.pipeline.fit_every =
                (fit_every > 0).then(|| std::time::Duration::from_secs(fit_every));
            if let Some(n) = workers {
                config.pipeline.workers = n.max(1);
            }
            config.pipeline.webhook_allow_hosts = allow_webhook_host;
            config.node_id = node_id;
            config.pipeline.lease_ttl = std::time::Duration::from_millis(lease_ttl_ms.max(500));
            config.pipeline.max_pending = max_pending;
            config.pipeline.retry = clientele::pipeline::RetryPolicy {
                attempts: retry_attempts.max(1),
                backoff: std::time::Duration::from_millis(retry_backoff_ms),
            };
            config.max_limits.fuel = max_fuel.max(1);
            config.metrics_listen = metrics_listen;
            config.insecure_http = insecure_http;
            config.webhook_ca_file = webhook_ca_file;
            let running = server::start(config).await?;
            println!("clientele listening on http://{}", running.addr);
            let mut term =
                tokio::signal::unix::signal(tokio::signal::unix::SignalKind::terminate())?;
            tokio::select! {
                _ = tokio::signal::ctrl_c() => {}
                _ = term.recv() => {}
            }
            tracing::info!("stopping: no new work; finishing what this node holds");
            running.shutdown().await;
            Ok(())
        }
        Command::Migrate { data_dir, database_url } => {
            init_tracing();
            let mut config = ServerConfig::new(data_dir);
            config.database_url = database_url;
            server::open_db(&config).await?;
            println!("migrations applied");
            Ok(())
        }
        Command::Demo { data_dir, serve, listen } => demo::run(data_dir, serve, listen).await,
        Command::Openapi => {
            println!("{:#}", clientele::api::openapi_json());
            Ok(())
        }
        Command::Bench { fits, cluster, .. } if !fits.is_empty() => {
            let postgres = cluster.as_deref().filter(|c| *c != "sqlite");
            for customers in fits {
                bench::population_fits(customers, postgres).await?;
            }
            Ok(())
        }
        Command::Bench { history, cluster, customers, .. } if !history.is_empty() => {
            let postgres = cluster.as_deref().filter(|c| *c != "sqlite");
            let customers = customers.first().copied().unwrap_or(20).max(1);
            bench::history(&history, customers, postgres).await
        }
        Command::Bench { retention, cluster, .. } if !retention.is_empty() => {
            let postgres = cluster.as_deref().filter(|c| *c != "sqlite");
            for customers in retention {
                bench::retention(customers, postgres).await?;
            }
            Ok(())
        }
        Command::Bench { events, calls, cluster: None, .. } => bench::run(events, calls).await,
        Command::Bench {
            events,
            cluster: Some(target),
            nodes,
            stores,
            customers,
            paced_seconds,
            paced_at,
            paced_rate,
            ..
        } => {
            // Quiet unless asked: `CLIENTELE_LOG=sqlx=debug` logs every
            // statement with its time.
            if std::env::var("CLIENTELE_LOG").is_ok() {
                init_tracing();
            }
            let postgres = (target != "sqlite").then_some(target.as_str());
            let customers =
                if customers.is_empty() { vec![(events / 10).max(1)] } else { customers };
            for customers in customers {
                for &n in &nodes {
                    bench::cluster(&bench::ClusterRun {
                        postgres,
                        nodes: n.max(1),
                        events,
                        stores: stores.max(1),
                        customers,
                        paced_seconds,
                        paced_at: if paced_at.is_empty() && paced_rate.is_empty() {
                            &[0.8]
                        } else {
                            &paced_at
                        },
                        paced_rates: &paced_rate,
                    })
                    .await?;
                }
            }
            Ok(())
        }
        Command::Plugin { command: PluginCommand::New { name, world, lang, dir } } => {
            let world = clientele::domain::World::parse(&world).ok_or_else(|| {
                anyhow::anyhow!("`{world}` is not a world: {}", clientele::domain::World::list())
            })?;
            let made = clientele::devkit::scaffold::new_plugin(&name, world, lang, &dir)?;
            println!("{}", clientele::devkit::scaffold::next_steps(&made, world, lang));
            Ok(())
        }
        Command::Plugin { command: PluginCommand::Publish { target, server, token } } => {
            let body = clientele::devkit::publish(&target, &server, &token).await?;
            println!(
                "published {}@{} ({}, sha256 {})",
                body["name"].as_str().unwrap_or("?"),
                body["version"].as_str().unwrap_or("?"),
                body["world"].as_str().unwrap_or("?"),
                body["sha256"].as_str().unwrap_or("?")
            );
            Ok(())
        }
        Command::Plugin { command: PluginCommand::Replay(args) } => {
            clientele::devkit::replay::replay(args).await?;
            Ok(())
        }
        Command::Wit { out, contract } => {
            for path in clientele::devkit::write_wit(&out, contract.as_deref())? {
                println!("{}", path.display());
            }
            Ok(())
        }
        Command::Plugin { command: PluginCommand::Build { dir, out } } => {
            clientele::devkit::check_manifest(&dir.join("plugin.toml"))?;
            let path = clientele_plugin_build::build(&dir, out.as_deref())?;
            println!("{}", path.display());
            Ok(())
        }
        Command::Plugin { command: PluginCommand::Run(args) } => {
            let ran =
                tokio::task::spawn_blocking(move || clientele::devkit::run::run(args)).await??;
            if !ran.ok {
                std::process::exit(1);
            }
            Ok(())
        }
    }
}
