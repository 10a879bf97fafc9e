//! The artifact cache: each component compiled once, kept on disk as
//! `<sha256>-<engine fingerprint>.cwasm` and deserialized at the next
//! start instead of compiled again. The fingerprint changes with the
//! engine's configuration and version, so a stale artifact is never read.

use std::path::{Path, PathBuf};

use wasmtime::component::Component;
use wasmtime::Engine;

pub struct Artifacts {
    dir: PathBuf,
    fingerprint: String,
}

impl Artifacts {
    pub fn new(dir: &Path, engine: &Engine) -> std::io::Result<Artifacts> {
        std::fs::create_dir_all(dir)?;
        let fingerprint = {
            use std::hash::{Hash, Hasher};
            let mut h = std::collections::hash_map::DefaultHasher::new();
            engine.precompile_compatibility_hash().hash(&mut h);
            format!("{:016x}", h.finish())
        };
        Ok(Artifacts { dir: dir.to_path_buf(), fingerprint })
    }

    fn path(&self, sha256: &str) -> PathBuf {
        self.dir.join(format!("{sha256}-{}.cwasm", self.fingerprint))
    }

    /// Whether a precompiled artifact for these bytes exists.
    pub fn has(&self, sha256: &str) -> bool {
        self.path(sha256).exists()
    }

    /// The precompiled component, if there is a usable one.
    pub fn read(&self, engine: &Engine, sha256: &str) -> Option<Component> {
        let path = self.path(sha256);
        // SAFETY: the artifact was written by this host, with this engine
        // configuration (the file name carries its fingerprint), into its
        // own data directory; wasmtime checks compatibility as well.
        path.exists().then(|| unsafe { Component::deserialize_file(engine, &path) }.ok()).flatten()
    }

    /// Keeps the compiled component; an existing artifact is left as it is.
    pub fn write(&self, sha256: &str, component: &Component) {
        let path = self.path(sha256);
        if path.exists() {
            return;
        }
        let result =
            component.serialize().map_err(|e| anyhow::anyhow!("{e:#}")).and_then(|bytes| {
                let tmp = path.with_extension("tmp");
                std::fs::write(&tmp, bytes)?;
                std::fs::rename(&tmp, &path)?;
                Ok(())
            });
        if let Err(e) = result {
            tracing::warn!(path = %path.display(), error = %e, "could not cache compiled plugin; it will be recompiled at the next start");
        }
    }
}
