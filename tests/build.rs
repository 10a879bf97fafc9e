//! Builds every guest component from source for wasm32-wasip2 and emits
//! one path constant per guest (`guests.rs` in OUT_DIR). Built `.wasm`
//! files are never committed.

use std::path::{Path, PathBuf};
use std::process::Command;

/// (package, constant) for every guest the tests use.
const GUESTS: &[(&str, &str)] = &[
    ("points-basic", "POINTS_BASIC"),
    ("guest-hostile", "HOSTILE"),
    ("guest-segmenter", "SEGMENTER"),
    ("rfm-segments", "RFM_SEGMENTS"),
    ("churn-winback", "CHURN_WINBACK"),
];

/// (plugin folder, constant) for every guest in another language, built
/// the way `clientele plugin build` builds it.
const OTHER_LANGUAGES: &[(&str, &str)] = &[
    ("plugins/survey-scoring", "SURVEY_SCORING"),
    ("plugins/points-campaign", "POINTS_CAMPAIGN"),
];

fn main() {
    let root = PathBuf::from(std::env::var("CARGO_MANIFEST_DIR").unwrap())
        .parent()
        .unwrap()
        .to_path_buf();
    for dir in ["wit", "plugins", "tests/guests"] {
        println!("cargo:rerun-if-changed={}", root.join(dir).display());
    }
    // A target dir of its own: the outer cargo holds the lock on `target/`.
    let target_dir = root.join("target").join("guests");
    let cargo = std::env::var("CARGO").unwrap_or_else(|_| "cargo".into());
    let mut cmd = Command::new(cargo);
    cmd.current_dir(&root)
        .args([
            "build",
            "--release",
            "--target",
            "wasm32-wasip2",
            "--target-dir",
        ])
        .arg(&target_dir);
    for (package, _) in GUESTS {
        cmd.args(["-p", package]);
    }
    // Settings meant for the host build must not leak into the guests'.
    for (key, _) in std::env::vars() {
        if key.starts_with("CARGO_") && key != "CARGO_HOME"
            || matches!(
                key.as_str(),
                "RUSTFLAGS" | "RUSTC_WRAPPER" | "RUSTC_WORKSPACE_WRAPPER"
            )
        {
            cmd.env_remove(key);
        }
    }
    let status = cmd
        .status()
        .expect("running cargo to build the guest components");
    assert!(
        status.success(),
        "building the guest components failed; is the wasm32-wasip2 target installed? (run `rustup toolchain install` in the repository)"
    );
    let mut out = String::new();
    for (package, constant) in GUESTS {
        let path = target_dir
            .join("wasm32-wasip2/release")
            .join(format!("{}.wasm", package.replace('-', "_")));
        assert!(path.exists(), "missing {}", path.display());
        out.push_str(&format!(
            "pub const {constant}: &str = {:?};\n",
            path.display().to_string()
        ));
    }
    for (folder, constant) in OTHER_LANGUAGES {
        let path = build_other(&root.join(folder), &target_dir);
        out.push_str(&format!(
            "pub const {constant}: &str = {:?};\n",
            path.display().to_string()
        ));
    }
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
    let name = dir.file_name().unwrap().to_str().unwrap();
    let out = target_dir.join(format!("{name}-{:016x}.wasm", hasher.finish()));
    if !out.exists() {
        if let Err(e) = clientele_plugin_build::build(dir, Some(&out)) {
            panic!("building {}: {e:#}", dir.display());
        }
    }
    out
}
