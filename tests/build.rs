//! Builds every guest component from source for wasm32-wasip2 and emits
//! one path constant per guest (`guests.rs` in OUT_DIR). Built `.wasm`
//! files are never committed.

use std::path::{Path, PathBuf};
use std::process::Command;

/// Folders whose every subfolder is a guest: a Rust crate (`Cargo.toml`)
/// built for wasm32-wasip2, or a Python / JavaScript plugin built the way
/// `clientele plugin build` builds it. Each gets a path constant named
/// after its folder (`plugins/points-basic` → `POINTS_BASIC`) and an entry
/// in `ALL`, which a test publishes one by one: no guest goes untested,
/// and a new folder needs no list to be edited.
const GUEST_FOLDERS: &[&str] = &["plugins", "tests/guests"];

struct Guest {
    dir: PathBuf,
    constant: String,
    /// The Cargo package, for a Rust guest.
    package: Option<String>,
}

fn guests(root: &Path) -> Vec<Guest> {
    let mut found = Vec::new();
    for folder in GUEST_FOLDERS {
        let mut dirs: Vec<PathBuf> = std::fs::read_dir(root.join(folder))
            .unwrap()
            .map(|e| e.unwrap().path())
            .filter(|p| p.join("plugin.toml").exists() || p.join("Cargo.toml").exists())
            .collect();
        dirs.sort();
        for dir in dirs {
            let name = dir.file_name().unwrap().to_str().unwrap().to_string();
            let package = std::fs::read_to_string(dir.join("Cargo.toml"))
                .ok()
                .map(|toml| package_name(&toml, &dir));
            found.push(Guest { constant: name.to_uppercase().replace('-', "_"), dir, package });
        }
    }
    found
}

/// The `name` of a Cargo.toml's `[package]`.
fn package_name(toml: &str, dir: &Path) -> String {
    toml.lines()
        .skip_while(|l| l.trim() != "[package]")
        .find_map(|l| {
            let value = l.trim().strip_prefix("name")?.trim().strip_prefix('=')?;
            Some(value.trim().trim_matches('"').to_string())
        })
        .unwrap_or_else(|| panic!("{} has no package name", dir.display()))
}

fn main() {
    let root =
        PathBuf::from(std::env::var("CARGO_MANIFEST_DIR").unwrap()).parent().unwrap().to_path_buf();
    for dir in ["wit", "plugins", "tests/guests"] {
        println!("cargo:rerun-if-changed={}", root.join(dir).display());
    }
    // A target dir of its own: the outer cargo holds the lock on `target/`.
    let target_dir = root.join("target").join("guests");
    let cargo = std::env::var("CARGO").unwrap_or_else(|_| "cargo".into());
    let mut cmd = Command::new(cargo);
    cmd.current_dir(&root)
        .args(["build", "--release", "--target", "wasm32-wasip2", "--target-dir"])
        .arg(&target_dir);
    let guests = guests(&root);
    for package in guests.iter().filter_map(|g| g.package.as_ref()) {
        cmd.args(["-p", package]);
    }
    // Settings meant for the host build must not leak into the guests'.
    for (key, _) in std::env::vars() {
        if key.starts_with("CARGO_") && key != "CARGO_HOME"
            || matches!(key.as_str(), "RUSTFLAGS" | "RUSTC_WRAPPER" | "RUSTC_WORKSPACE_WRAPPER")
        {
            cmd.env_remove(key);
        }
    }
    let status = cmd.status().expect("running cargo to build the guest components");
    assert!(
        status.success(),
        "building the guest components failed; is the wasm32-wasip2 target installed? (run `rustup toolchain install` in the repository)"
    );
    let mut out = String::new();
    let mut all = Vec::new();
    for guest in &guests {
        let path = match &guest.package {
            Some(package) => target_dir
                .join("wasm32-wasip2/release")
                .join(format!("{}.wasm", package.replace('-', "_"))),
            None => build_other(&guest.dir, &target_dir),
        };
        assert!(path.exists(), "missing {}", path.display());
        out.push_str(&format!(
            "pub const {}: &str = {:?};\n",
            guest.constant,
            path.display().to_string()
        ));
        let folder = guest.dir.strip_prefix(&root).unwrap().display().to_string();
        all.push(format!("({folder:?}, {})", guest.constant));
    }
    out.push_str(&format!(
        "/// Every guest: (its folder, its component).\npub const ALL: &[(&str, &str)] = &[{}];\n",
        all.join(", ")
    ));
    let dest = PathBuf::from(std::env::var("OUT_DIR").unwrap()).join("guests.rs");
    std::fs::write(dest, out).unwrap();
}

/// Builds a Python or JavaScript plugin unless a build of the same sources
/// (and WIT) is already there: those builds take tens of seconds.
fn build_other(dir: &Path, target_dir: &Path) -> PathBuf {
    use std::hash::{Hash, Hasher};
    let mut hasher = std::collections::hash_map::DefaultHasher::new();
    let mut files: Vec<PathBuf> = std::fs::read_dir(dir)
        .unwrap()
        .map(|e| e.unwrap().path())
        .filter(|p| p.is_file())
        .collect();
    files.sort();
    for f in &files {
        f.file_name().hash(&mut hasher);
        std::fs::read(f).unwrap().hash(&mut hasher);
    }
    for (name, text) in clientele_plugin_build::WIT_FILES {
        name.hash(&mut hasher);
        text.hash(&mut hasher);
    }
    clientele_plugin_build::COMPONENTIZE_PY.hash(&mut hasher);
    clientele_plugin_build::COMPONENTIZE_JS.hash(&mut hasher);
    clientele_plugin_build::JS_ENTRY.hash(&mut hasher);
    let name = dir.file_name().unwrap().to_str().unwrap();
    let out = target_dir.join(format!("{name}-{:016x}.wasm", hasher.finish()));
    if !out.exists() {
        if let Err(e) = clientele_plugin_build::build(dir, Some(&out)) {
            panic!("building {}: {e:#}", dir.display());
        }
    }
    out
}
