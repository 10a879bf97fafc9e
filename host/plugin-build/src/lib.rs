//! `clientele plugin build`: turns a plugin folder into a component,
//! whatever its language.
//!
//! - Rust (`Cargo.toml`): cargo for the `wasm32-wasip2` target.
//! - Python (`app.py`): componentize-py, module `app`.
//! - JavaScript (`app.js`): componentize-js, one ES module.
//!
//! Python and JavaScript guests are built against a world generated from
//! the manifest: the plugin's world with only the imports it declares, so
//! that a language whose tooling imports everything in a world still asks
//! for no more than its manifest says. The toolchains are installed on
//! first use into a cache folder (`CLIENTELE_TOOLCHAINS`, else
//! `$XDG_CACHE_HOME/clientele/toolchains`, else `~/.cache/...`).
//!
//! This crate has no wasmtime in it, so the tests' build script can use it.

use std::path::{Path, PathBuf};
use std::process::Command;

use anyhow::{bail, Context};

mod contract;
pub use contract::{Capability, UnknownWorld, World};

/// The pinned versions of the language toolchains.
pub const COMPONENTIZE_PY: &str = "0.25.1";
pub const COMPONENTIZE_JS: &str = "0.23.0";

/// The WIT package every plugin is built against (the newest contract),
/// carried in the binary.
pub const WIT_FILES: &[(&str, &str)] = &[
    ("types.wit", include_str!("../../../wit/since_v0.6.0/types.wit")),
    ("host.wit", include_str!("../../../wit/since_v0.6.0/host.wit")),
    ("worlds.wit", include_str!("../../../wit/since_v0.6.0/worlds.wit")),
];

/// The contract's WIT package.
const WIT_PACKAGE: &str = "clientele:crm";

/// The newest contract's version: what `WIT_FILES` is.
pub const NEWEST: &str = "0.6.0";

/// The frozen 0.5.0 package, for `clientele wit --contract 0.5.0`.
const WIT_FILES_0_5_0: &[(&str, &str)] = &[
    ("types.wit", include_str!("../../../wit/since_v0.5.0/types.wit")),
    ("host.wit", include_str!("../../../wit/since_v0.5.0/host.wit")),
    ("worlds.wit", include_str!("../../../wit/since_v0.5.0/worlds.wit")),
];

/// The frozen 0.4.0 package, for `clientele wit --contract 0.4.0`.
const WIT_FILES_0_4_0: &[(&str, &str)] = &[
    ("types.wit", include_str!("../../../wit/since_v0.4.0/types.wit")),
    ("host.wit", include_str!("../../../wit/since_v0.4.0/host.wit")),
    ("worlds.wit", include_str!("../../../wit/since_v0.4.0/worlds.wit")),
];

/// The frozen 0.3.0 package, for `clientele wit --contract 0.3.0`.
const WIT_FILES_0_3_0: &[(&str, &str)] = &[
    ("types.wit", include_str!("../../../wit/since_v0.3.0/types.wit")),
    ("host.wit", include_str!("../../../wit/since_v0.3.0/host.wit")),
    ("worlds.wit", include_str!("../../../wit/since_v0.3.0/worlds.wit")),
];

/// The frozen 0.2.0 package, for `clientele wit --contract 0.2.0`.
const WIT_FILES_0_2_0: &[(&str, &str)] = &[
    ("types.wit", include_str!("../../../wit/since_v0.2.0/types.wit")),
    ("host.wit", include_str!("../../../wit/since_v0.2.0/host.wit")),
    ("worlds.wit", include_str!("../../../wit/since_v0.2.0/worlds.wit")),
];

/// The frozen 0.1.0 package, for `clientele wit --contract 0.1.0`.
const WIT_FILES_0_1_0: &[(&str, &str)] = &[
    ("types.wit", include_str!("../../../wit/since_v0.1.0/types.wit")),
    ("host.wit", include_str!("../../../wit/since_v0.1.0/host.wit")),
    ("worlds.wit", include_str!("../../../wit/since_v0.1.0/worlds.wit")),
];

/// Every contract version a host serves, oldest first, with its files.
pub const CONTRACTS: &[(&str, &[(&str, &str)])] = &[
    ("0.1.0", WIT_FILES_0_1_0),
    ("0.2.0", WIT_FILES_0_2_0),
    ("0.3.0", WIT_FILES_0_3_0),
    ("0.4.0", WIT_FILES_0_4_0),
    ("0.5.0", WIT_FILES_0_5_0),
    (NEWEST, WIT_FILES),
];

/// The language a plugin folder is written in.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Language {
    Rust,
    Python,
    JavaScript,
}

impl Language {
    pub fn name(self) -> &'static str {
        match self {
            Language::Rust => "Rust",
            Language::Python => "Python",
            Language::JavaScript => "JavaScript",
        }
    }
}

pub fn detect(dir: &Path) -> anyhow::Result<Language> {
    if dir.join("Cargo.toml").exists() {
        Ok(Language::Rust)
    } else if dir.join("app.py").exists() {
        Ok(Language::Python)
    } else if dir.join("app.js").exists() {
        Ok(Language::JavaScript)
    } else {
        bail!(
            "{} has none of Cargo.toml (Rust), app.py (Python) or app.js (JavaScript): cannot tell which language the plugin is written in",
            dir.display()
        )
    }
}

/// What the build needs from `plugin.toml`.
#[derive(Debug, Clone, serde::Deserialize)]
pub struct ManifestHead {
    pub name: String,
    pub world: String,
    #[serde(default)]
    pub capabilities: Vec<String>,
}

pub fn read_manifest(dir: &Path) -> anyhow::Result<ManifestHead> {
    let path = dir.join("plugin.toml");
    let text = std::fs::read_to_string(&path).with_context(|| {
        format!("{} has no readable plugin.toml; a plugin folder needs one", dir.display())
    })?;
    toml::from_str(&text).with_context(|| format!("{} is not a valid manifest", path.display()))
}

/// The interface a world exports.
fn export_of(world: &str) -> anyhow::Result<&'static str> {
    match World::parse(world) {
        Some(w) => Ok(w.export_interface()),
        None => bail!("plugin.toml names world `{world}`; the worlds are {}", World::list()),
    }
}

/// Writes the WIT package plus a `plugin-build` world (the manifest's
/// world with only its declared imports) into `dir`.
pub fn write_build_wit(dir: &Path, manifest: &ManifestHead, version: &str) -> anyhow::Result<()> {
    let Some((_, files)) = CONTRACTS.iter().find(|(v, _)| *v == version) else {
        bail!(
            "the plugin imports {WIT_PACKAGE}@{version}; the contracts are {}",
            CONTRACTS.iter().map(|(v, _)| *v).collect::<Vec<_>>().join(", ")
        );
    };
    std::fs::create_dir_all(dir)?;
    for (name, text) in *files {
        std::fs::write(dir.join(name), text)?;
    }
    let mut world = format!(
        "package clientele:crm@{version};\n\n/// Generated by `clientele plugin build` from plugin.toml.\nworld plugin-build {{\n    import log;\n    import customers;\n",
    );
    // What the world imports whatever the manifest says (new in 0.3.0,
    // and for point-rules more in 0.5.0 and 0.6.0).
    let before_reads = matches!(version, "0.1.0" | "0.2.0");
    let before_earnings = before_reads || matches!(version, "0.3.0" | "0.4.0");
    let before_order_ledger = before_earnings || version == "0.5.0";
    let always: &[&str] = match World::parse(&manifest.world) {
        _ if before_reads => &[],
        Some(World::Segmenter | World::ChurnRescue) => &["population", "segments"],
        Some(World::PointRules) if before_earnings => &["segments"],
        Some(World::PointRules) if before_order_ledger => &["segments", "earnings", "complaints"],
        Some(World::PointRules) => &["segments", "earnings", "complaints", "order-ledger"],
        Some(World::SurveyScorer) => &["survey-settings"],
        Some(World::Responder) => &["segments", "complaints"],
        None => &[],
    };
    for iface in always {
        world.push_str(&format!("    import {iface};\n"));
    }
    for cap in &manifest.capabilities {
        match Capability::parse(cap) {
            Some(c) => world.push_str(&format!("    import {c};\n")),
            None => bail!(
                "plugin.toml declares unknown capability `{cap}`; the capabilities are {}",
                Capability::list()
            ),
        }
    }
    world.push_str(&format!("    export {};\n}}\n", export_of(&manifest.world)?));
    std::fs::write(dir.join("zz-plugin-build.wit"), world)?;
    Ok(())
}

/// Builds the plugin in `dir` and copies the component to `out` (default:
/// `<dir>/build/<name>.wasm`, or cargo's output for Rust). Returns its path.
pub fn build(dir: &Path, out: Option<&Path>) -> anyhow::Result<PathBuf> {
    let manifest = read_manifest(dir)?;
    let language = detect(dir)?;
    eprintln!("building {} ({}, world {}) …", manifest.name, language.name(), manifest.world);
    let default_out = dir.join("build").join(format!("{}.wasm", manifest.name));
    let built = match language {
        Language::Rust => build_rust(dir)?,
        Language::Python | Language::JavaScript => {
            let out = out.unwrap_or(&default_out);
            // Nothing that goes into the component changed: the last build
            // is this one (cargo does the same for Rust by itself).
            let stamp = out.with_extension("wasm.inputs");
            let inputs = fingerprint(dir)?;
            if out.exists() && std::fs::read_to_string(&stamp).ok().as_deref() == Some(&inputs) {
                eprintln!("  up to date: {}", out.display());
                return Ok(out.to_path_buf());
            }
            let _ = std::fs::remove_file(&stamp);
            if language == Language::Python {
                build_python(dir, &manifest, out)?;
            } else {
                build_js(dir, &manifest, out)?;
            }
            std::fs::write(&stamp, inputs)?;
            return Ok(out.to_path_buf());
        }
    };
    match out {
        Some(out) => {
            if let Some(parent) = out.parent().filter(|p| !p.as_os_str().is_empty()) {
                std::fs::create_dir_all(parent)?;
            }
            std::fs::copy(&built, out).with_context(|| format!("copying to {}", out.display()))?;
            Ok(out.to_path_buf())
        }
        None => Ok(built),
    }
}

/// What a Python or JavaScript build is made of: every file of the folder
/// (but what builds write: `build/`, caches, dependencies), the contract,
/// the pinned toolchains and the JavaScript entry module, as a hash.
pub fn fingerprint(dir: &Path) -> anyhow::Result<String> {
    use std::hash::{Hash, Hasher};
    fn walk(dir: &Path, files: &mut Vec<PathBuf>) -> std::io::Result<()> {
        for entry in std::fs::read_dir(dir)? {
            let path = entry?.path();
            let name = path.file_name().and_then(|n| n.to_str()).unwrap_or_default();
            if matches!(name, "build" | "node_modules" | "__pycache__" | ".git" | "target")
                || name == JS_ENTRY_FILE
            {
                continue;
            }
            if path.is_dir() {
                walk(&path, files)?;
            } else {
                files.push(path);
            }
        }
        Ok(())
    }
    let mut files = Vec::new();
    walk(dir, &mut files)?;
    files.sort();
    // A stable hash (FNV-1a), written as hex: the stamp outlives the process.
    struct Fnv(u64);
    impl Hasher for Fnv {
        fn finish(&self) -> u64 {
            self.0
        }
        fn write(&mut self, bytes: &[u8]) {
            for b in bytes {
                self.0 ^= u64::from(*b);
                self.0 = self.0.wrapping_mul(0x0100_0000_01b3);
            }
        }
    }
    let mut h = Fnv(0xcbf2_9ce4_8422_2325);
    for f in &files {
        f.strip_prefix(dir).unwrap_or(f).hash(&mut h);
        std::fs::read(f)?.hash(&mut h);
    }
    for (name, text) in WIT_FILES {
        name.hash(&mut h);
        text.hash(&mut h);
    }
    (COMPONENTIZE_PY, COMPONENTIZE_JS, JS_ENTRY).hash(&mut h);
    Ok(format!("{:016x}", h.finish()))
}

/// Where language toolchains are installed.
pub fn toolchains_dir() -> PathBuf {
    if let Some(dir) = std::env::var_os("CLIENTELE_TOOLCHAINS") {
        return PathBuf::from(dir);
    }
    let cache = std::env::var_os("XDG_CACHE_HOME")
        .map(PathBuf::from)
        .or_else(|| std::env::var_os("HOME").map(|h| PathBuf::from(h).join(".cache")))
        .unwrap_or_else(std::env::temp_dir);
    cache.join("clientele").join("toolchains")
}

fn run(cmd: &mut Command, what: &str) -> anyhow::Result<()> {
    let status =
        cmd.status().with_context(|| format!("{what}: could not start {:?}", cmd.get_program()))?;
    if !status.success() {
        bail!("{what} failed ({status})");
    }
    Ok(())
}

/// A scratch folder next to the output, removed when dropped.
struct Scratch(PathBuf);

impl Scratch {
    fn new(out: &Path) -> anyhow::Result<Scratch> {
        let parent = out.parent().filter(|p| !p.as_os_str().is_empty()).unwrap_or(Path::new("."));
        std::fs::create_dir_all(parent)?;
        let dir = parent.join(format!(
            ".clientele-build-{}-{}",
            std::process::id(),
            out.file_stem().and_then(|s| s.to_str()).unwrap_or("plugin")
        ));
        let _ = std::fs::remove_dir_all(&dir);
        std::fs::create_dir_all(&dir)?;
        Ok(Scratch(dir))
    }
}

impl Drop for Scratch {
    fn drop(&mut self) {
        let _ = std::fs::remove_dir_all(&self.0);
    }
}

/// componentize-py in a virtual environment of its own; installed once.
pub fn componentize_py() -> anyhow::Result<PathBuf> {
    python_tool("componentize-py", COMPONENTIZE_PY, "componentize-py")
}

/// The command `bin` of PyPI package `package`==`version`, in a virtual
/// environment of its own under the toolchains folder; installed once.
pub fn python_tool(package: &str, version: &str, bin: &str) -> anyhow::Result<PathBuf> {
    let venv = toolchains_dir().join(format!("{package}-{version}"));
    let path = venv.join("bin").join(bin);
    if path.exists() {
        return Ok(path);
    }
    eprintln!("installing {package} {version} into {} (first use) …", venv.display());
    let python = std::env::var("PYTHON").unwrap_or_else(|_| "python3".into());
    run(
        Command::new(&python).args(["-m", "venv"]).arg(&venv),
        "creating a Python virtual environment (is python3 installed?)",
    )?;
    run(
        Command::new(venv.join("bin").join("pip")).args([
            "install",
            "--quiet",
            "--disable-pip-version-check",
            &format!("{package}=={version}"),
        ]),
        &format!("installing {package} from PyPI"),
    )?;
    Ok(path)
}

/// componentize-js in an npm prefix of its own; installed once.
pub fn componentize_js() -> anyhow::Result<PathBuf> {
    let prefix = toolchains_dir().join(format!("componentize-js-{COMPONENTIZE_JS}"));
    let bin = prefix.join("node_modules").join(".bin").join("componentize-js");
    if bin.exists() {
        return Ok(bin);
    }
    eprintln!(
        "installing @bytecodealliance/componentize-js {COMPONENTIZE_JS} into {} (first use) …",
        prefix.display()
    );
    std::fs::create_dir_all(&prefix)?;
    std::fs::write(
        prefix.join("package.json"),
        r#"{"name":"clientele-toolchain","private":true}"#,
    )?;
    run(
        Command::new("npm")
            .args(["install", "--no-audit", "--no-fund", "--loglevel=error", "--prefix"])
            .arg(&prefix)
            .arg(format!("@bytecodealliance/componentize-js@{COMPONENTIZE_JS}")),
        "installing componentize-js from npm (is Node.js installed?)",
    )?;
    Ok(bin)
}

fn build_python(dir: &Path, manifest: &ManifestHead, out: &Path) -> anyhow::Result<()> {
    let tool = componentize_py()?;
    let scratch = Scratch::new(out)?;
    let wit = scratch.0.join("wit");
    write_build_wit(&wit, manifest, NEWEST)?;
    run(
        Command::new(tool)
            .arg("-d")
            .arg(&wit)
            .args(["-w", "plugin-build", "componentize", "app", "-p"])
            .arg(dir)
            .arg("-o")
            .arg(out),
        "componentize-py",
    )
}

/// The module componentize-js builds: the author's `app.js`, its exports
/// wrapped so that whatever they throw reaches the host as a
/// `plugin-error`: a `{code, message, retryable}` object as it is, a
/// string as its message, and an `Error` as its name, message and stack
/// (the bindings would otherwise trap on an `Error` and lose it).
pub const JS_ENTRY: &str = "// Written by `clientele plugin build`; removed after the build.
import * as app from './app.js';

function pluginError(e) {
  if (typeof e === 'string') return { code: '', message: e, retryable: false };
  if (e instanceof Error) {
    return {
      code: typeof e.code === 'string' ? e.code : '',
      message: `${e.name}: ${e.message}\n${e.stack ?? ''}`.trimEnd(),
      retryable: e.retryable === true,
    };
  }
  if (e !== null && typeof e === 'object' && 'message' in e) {
    return {
      code: typeof e.code === 'string' ? e.code : '',
      message: String(e.message),
      retryable: e.retryable === true,
    };
  }
  return { code: '', message: `threw ${JSON.stringify(e) ?? String(e)}`, retryable: false };
}

function guard(iface) {
  const out = {};
  for (const [name, f] of Object.entries(iface ?? {})) {
    out[name] = (...args) => {
      try {
        return f.apply(iface, args);
      } catch (e) {
        throw pluginError(e);
      }
    };
  }
  return out;
}

export const EXPORT = guard(app.EXPORT);
";

/// The contract a JavaScript plugin is written against: the version its
/// modules name in their imports (`'clientele:crm/log@0.2.0'`), so that a
/// plugin keeps building against the contract it was written for; the
/// newest when they name none.
fn js_contract(dir: &Path) -> anyhow::Result<String> {
    let needle = format!("{WIT_PACKAGE}/");
    let mut found = std::collections::BTreeSet::new();
    for entry in std::fs::read_dir(dir)? {
        let path = entry?.path();
        if path.extension().is_some_and(|e| e == "js" || e == "mjs") {
            let text = std::fs::read_to_string(&path)?;
            for (at, _) in text.match_indices(&needle) {
                let rest = &text[at + needle.len()..];
                let Some(v) = rest.split_once('@').map(|(_, v)| v) else { continue };
                let version: String =
                    v.chars().take_while(|c| c.is_ascii_digit() || *c == '.').collect();
                if !version.is_empty() {
                    found.insert(version);
                }
            }
        }
    }
    match found.len() {
        0 => Ok(NEWEST.to_string()),
        1 => Ok(found.into_iter().next().unwrap_or_default()),
        _ => bail!(
            "the plugin's modules import {WIT_PACKAGE} of several versions ({}); use one",
            found.into_iter().collect::<Vec<_>>().join(", ")
        ),
    }
}

/// The entry module's file, beside `app.js` so that its imports resolve as
/// the author wrote them.
const JS_ENTRY_FILE: &str = ".clientele-entry.js";

fn build_js(dir: &Path, manifest: &ManifestHead, out: &Path) -> anyhow::Result<()> {
    let tool = componentize_js()?;
    let scratch = Scratch::new(out)?;
    let wit = scratch.0.join("wit");
    write_build_wit(&wit, manifest, &js_contract(dir)?)?;
    let entry = dir.join(JS_ENTRY_FILE);
    std::fs::write(&entry, JS_ENTRY.replace("EXPORT", export_of(&manifest.world)?))
        .with_context(|| format!("writing {}", entry.display()))?;
    let built = run(
        Command::new(tool)
            .arg(&entry)
            .arg("--wit")
            .arg(&wit)
            .args(["--world-name", "plugin-build", "-d", "http", "fetch-event", "-o"])
            .arg(out),
        "componentize-js",
    );
    let _ = std::fs::remove_file(&entry);
    built
}

fn build_rust(dir: &Path) -> anyhow::Result<PathBuf> {
    let manifest = dir.join("Cargo.toml");
    let meta = Command::new("cargo")
        .args(["metadata", "--format-version", "1", "--no-deps", "--manifest-path"])
        .arg(&manifest)
        .output()
        .context("running cargo (is Rust installed?)")?;
    if !meta.status.success() {
        bail!("cargo metadata failed: {}", String::from_utf8_lossy(&meta.stderr));
    }
    let meta: serde_json::Value = serde_json::from_slice(&meta.stdout)?;
    let target_dir = PathBuf::from(meta["target_directory"].as_str().unwrap_or("target"));
    let canonical = std::fs::canonicalize(&manifest)?;
    let package = meta["packages"]
        .as_array()
        .and_then(|ps| {
            ps.iter().find(|p| {
                p["manifest_path"].as_str().and_then(|m| std::fs::canonicalize(m).ok()).as_deref()
                    == Some(canonical.as_path())
            })
        })
        .and_then(|p| p["name"].as_str())
        .context("cannot find the plugin's package in cargo metadata")?
        .to_string();
    let status = Command::new("cargo")
        .args(["build", "--release", "--target", "wasm32-wasip2", "--manifest-path"])
        .arg(&manifest)
        .status()
        .context("running cargo build")?;
    if !status.success() {
        bail!("cargo build failed for {package}; if the target is missing run `rustup toolchain install` in the repository (or `rustup target add wasm32-wasip2`)");
    }
    let wasm = target_dir
        .join("wasm32-wasip2/release")
        .join(format!("{}.wasm", package.replace('-', "_")));
    if !wasm.exists() {
        bail!("cargo did not produce {}; is the crate a cdylib?", wasm.display());
    }
    Ok(wasm)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn detects_each_language() {
        let dir = std::env::temp_dir().join(format!("clientele-detect-{}", std::process::id()));
        std::fs::create_dir_all(&dir).unwrap();
        assert!(detect(&dir).is_err());
        std::fs::write(dir.join("app.js"), "").unwrap();
        assert_eq!(detect(&dir).unwrap(), Language::JavaScript);
        std::fs::write(dir.join("app.py"), "").unwrap();
        assert_eq!(detect(&dir).unwrap(), Language::Python);
        std::fs::write(dir.join("Cargo.toml"), "").unwrap();
        assert_eq!(detect(&dir).unwrap(), Language::Rust);
        std::fs::remove_dir_all(&dir).unwrap();
    }

    #[test]
    fn build_world_has_only_declared_imports() {
        let dir = std::env::temp_dir().join(format!("clientele-wit-{}", std::process::id()));
        let m = ManifestHead {
            name: "x".into(),
            world: "point-rules".into(),
            capabilities: vec!["messaging".into()],
        };
        write_build_wit(&dir, &m, NEWEST).unwrap();
        let world = std::fs::read_to_string(dir.join("zz-plugin-build.wit")).unwrap();
        assert!(world.contains("import messaging;"));
        assert!(!world.contains("import state;"));
        assert!(world.contains("export loyalty;"));
        let bad = ManifestHead { capabilities: vec!["network".into()], ..m };
        assert!(write_build_wit(&dir, &bad, "9.9.9").is_err());
        assert!(write_build_wit(&dir, &bad, NEWEST).is_err());
        std::fs::remove_dir_all(&dir).unwrap();
    }
}
