//! `clientele plugin build`: turns a plugin folder into a component,
//! whatever its language. Rust plugins build with cargo for the
//! wasm32-wasip2 target.

use std::path::{Path, PathBuf};
use std::process::Command;

use anyhow::{bail, Context};

/// The language a plugin folder is written in.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Language {
    Rust,
}

pub fn detect(dir: &Path) -> anyhow::Result<Language> {
    if dir.join("Cargo.toml").exists() {
        return Ok(Language::Rust);
    }
    bail!(
        "{} has no Cargo.toml: cannot tell which language the plugin is written in",
        dir.display()
    )
}

/// Builds the plugin in `dir` and copies the component to `out` (or next
/// to the build output when `out` is None). Returns the component's path.
pub fn build(dir: &Path, out: Option<&Path>) -> anyhow::Result<PathBuf> {
    if !dir.join("plugin.toml").exists() {
        bail!(
            "{} has no plugin.toml; a plugin folder needs one",
            dir.display()
        );
    }
    let built = match detect(dir)? {
        Language::Rust => build_rust(dir)?,
    };
    match out {
        Some(out) => {
            std::fs::copy(&built, out).with_context(|| format!("copying to {}", out.display()))?;
            Ok(out.to_path_buf())
        }
        None => Ok(built),
    }
}

fn build_rust(dir: &Path) -> anyhow::Result<PathBuf> {
    let manifest = dir.join("Cargo.toml");
    let meta = Command::new("cargo")
        .args([
            "metadata",
            "--format-version",
            "1",
            "--no-deps",
            "--manifest-path",
        ])
        .arg(&manifest)
        .output()
        .context("running cargo (is Rust installed?)")?;
    if !meta.status.success() {
        bail!(
            "cargo metadata failed: {}",
            String::from_utf8_lossy(&meta.stderr)
        );
    }
    let meta: serde_json::Value = serde_json::from_slice(&meta.stdout)?;
    let target_dir = PathBuf::from(meta["target_directory"].as_str().unwrap_or("target"));
    let canonical = std::fs::canonicalize(&manifest)?;
    let package = meta["packages"]
        .as_array()
        .and_then(|ps| {
            ps.iter().find(|p| {
                p["manifest_path"]
                    .as_str()
                    .and_then(|m| std::fs::canonicalize(m).ok())
                    .as_deref()
                    == Some(canonical.as_path())
            })
        })
        .and_then(|p| p["name"].as_str())
        .context("cannot find the plugin's package in cargo metadata")?
        .to_string();
    eprintln!("building {package} for wasm32-wasip2 …");
    let status = Command::new("cargo")
        .args([
            "build",
            "--release",
            "--target",
            "wasm32-wasip2",
            "--manifest-path",
        ])
        .arg(&manifest)
        .status()
        .context("running cargo build")?;
    if !status.success() {
        bail!("cargo build failed for {package}; if the target is missing run `rustup target add wasm32-wasip2`");
    }
    let wasm = target_dir
        .join("wasm32-wasip2/release")
        .join(format!("{}.wasm", package.replace('-', "_")));
    if !wasm.exists() {
        bail!(
            "cargo did not produce {}; is the crate a cdylib?",
            wasm.display()
        );
    }
    Ok(wasm)
}
