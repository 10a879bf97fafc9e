//! Builds every guest component from source for wasm32-wasip2 and emits
//! one path constant per guest (`guests.rs` in OUT_DIR). Built `.wasm`
//! files are never committed.

use std::path::PathBuf;
use std::process::Command;

/// (package, constant) for every guest the tests use.
const GUESTS: &[(&str, &str)] = &[
    ("points-basic", "POINTS_BASIC"),
    ("guest-hostile", "HOSTILE"),
    ("guest-segmenter", "SEGMENTER"),
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
    let dest = PathBuf::from(std::env::var("OUT_DIR").unwrap()).join("guests.rs");
    std::fs::write(dest, out).unwrap();
}
