//! The plugin developer's tools behind `clientele plugin …` and
//! `clientele wit`: a new plugin folder (`scaffold`), checking a manifest
//! the way publishing does, running a plugin locally as the host would
//! (`run`), publishing to a server, and the contract as files.

pub mod replay;
pub mod run;
pub mod scaffold;

use std::path::{Path, PathBuf};

use anyhow::Context;

use crate::domain::manifest::Manifest;

/// Reads and checks a `plugin.toml` exactly as publishing does (name,
/// semver, world, capabilities, scopes, limits, config schema, unknown
/// keys), with the same messages.
pub fn check_manifest(path: &Path) -> anyhow::Result<Manifest> {
    let text = std::fs::read_to_string(path)
        .with_context(|| format!("cannot read {}; a plugin needs one", path.display()))?;
    Manifest::parse(&text).map_err(|errors| {
        let why: Vec<String> =
            errors.iter().map(|e| format!("  {}: {}", e.field, e.message)).collect();
        anyhow::anyhow!("{} would be refused when published:\n{}", path.display(), why.join("\n"))
    })
}

/// Checks, builds (a folder) and uploads a plugin to `server` with the
/// admin `token`; returns the server's answer.
pub async fn publish(
    target: &Path,
    server: &str,
    token: &str,
) -> anyhow::Result<serde_json::Value> {
    let (wasm, manifest_path) = if target.is_dir() {
        let manifest = target.join("plugin.toml");
        check_manifest(&manifest)?;
        (clientele_plugin_build::build(target, None)?, manifest)
    } else {
        let beside = target.parent().unwrap_or(Path::new(".")).join("plugin.toml");
        (target.to_path_buf(), beside)
    };
    check_manifest(&manifest_path)?;
    let manifest = std::fs::read_to_string(&manifest_path)?;
    let bytes = std::fs::read(&wasm).with_context(|| format!("cannot read {}", wasm.display()))?;
    let api = crate::client::ApiClient::new(server.trim_end_matches('/').to_string());
    let reply = api.publish(token, &manifest, bytes).await?;
    if !reply.status.is_success() {
        anyhow::bail!(
            "the server refused the plugin ({}): {}",
            reply.status,
            reply.body["detail"].as_str().map_or_else(|| reply.body.to_string(), str::to_string)
        );
    }
    Ok(reply.body)
}

/// Writes the contract a plugin is built against (the WIT package of
/// `version`, the newest when none) into `dir`; returns the files written.
pub fn write_wit(dir: &Path, version: Option<&str>) -> anyhow::Result<Vec<PathBuf>> {
    let contracts = clientele_plugin_build::CONTRACTS;
    let files = match version {
        None => clientele_plugin_build::WIT_FILES,
        Some(v) => {
            contracts.iter().find(|(known, _)| *known == v).map(|(_, files)| *files).with_context(
                || {
                    let known: Vec<&str> = contracts.iter().map(|(v, _)| *v).collect();
                    format!("no contract {v}; this host serves {}", known.join(", "))
                },
            )?
        }
    };
    std::fs::create_dir_all(dir)?;
    let mut written = Vec::new();
    for (name, text) in files {
        let path = dir.join(name);
        std::fs::write(&path, text).with_context(|| format!("writing {}", path.display()))?;
        written.push(path);
    }
    Ok(written)
}
