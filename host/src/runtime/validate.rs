//! Upload checks: is it a component, does it implement the declared world,
//! and does it import only what its manifest declares (manifest ∩ host).
//! This is the one place where capabilities are granted or refused.

use wasmtime::component::Component;
use wasmtime::Engine;

use super::bindings::{served_list, serves, Contract};
use super::RuntimeError;
use crate::domain::manifest::Manifest;
use crate::domain::{Capability, World};

/// The WIT package plugins implement; its versions are in `bindings`.
pub const WIT_PACKAGE: &str = "clientele:crm";

/// Interfaces every plugin may import, whatever its manifest says.
const ALWAYS: [&str; 9] = [
    "types",
    "log",
    "customers",
    "population",
    "segments",
    "survey-settings",
    "complaints",
    "earnings",
    "order-ledger",
];

pub fn header(bytes: &[u8]) -> Result<(), RuntimeError> {
    if bytes.len() < 8 || &bytes[0..4] != b"\0asm" {
        return Err(RuntimeError::NotWasm);
    }
    // Core modules have layer 0 (version 1); components have layer 1.
    if bytes[4..8] == [1, 0, 0, 0] {
        return Err(RuntimeError::CoreModule);
    }
    Ok(())
}

/// Splits `clientele:crm/loyalty@0.1.0` into (`loyalty`, `0.1.0`).
fn crm_interface(name: &str) -> Option<(&str, &str)> {
    let rest = name.strip_prefix(WIT_PACKAGE)?.strip_prefix('/')?;
    Some(rest.split_once('@').unwrap_or((rest, "")))
}

/// Checks the component and answers the contract version it implements
/// its world in.
pub fn world_and_imports(
    engine: &Engine,
    component: &Component,
    manifest: &Manifest,
) -> Result<Contract, RuntimeError> {
    let ty = component.component_type();

    let exported: Vec<String> = ty.exports(engine).map(|(n, _)| n.to_string()).collect();
    let wanted = manifest.world.export_interface();
    let mut found_world = None;
    let mut contract = Contract::newest();
    for name in &exported {
        if let Some((iface, version)) = crm_interface(name) {
            let Some(c) = Contract::parse(version) else {
                return Err(RuntimeError::WrongWorld(format!(
                    "it was built against {WIT_PACKAGE}@{version}; this host serves {WIT_PACKAGE}@{}",
                    served_list()
                )));
            };
            if iface == wanted {
                found_world = Some(manifest.world);
                contract = c;
                break;
            }
            if let Some(w) = World::ALL.iter().find(|w| w.export_interface() == iface) {
                found_world.get_or_insert(*w);
            }
        }
    }
    match found_world {
        Some(w) if w == manifest.world => {}
        Some(w) => {
            return Err(RuntimeError::WrongWorld(format!(
                "the manifest declares world `{}` but the component implements `{}`",
                manifest.world.name(),
                w.name()
            )))
        }
        None => {
            return Err(RuntimeError::WrongWorld(format!(
                "world `{}` must export `{WIT_PACKAGE}/{wanted}@{}`; the component exports [{}]",
                manifest.world.name(),
                served_list(),
                exported.join(", ")
            )))
        }
    }

    for (name, _) in ty.imports(engine) {
        if name.starts_with("wasi:") {
            continue; // linked with nothing behind it; unknown ones fail at link time
        }
        let Some((iface, version)) = crm_interface(name) else {
            return Err(RuntimeError::UndeclaredImport(format!(
                "imports `{name}`, which the host does not provide"
            )));
        };
        if !serves(version) {
            return Err(RuntimeError::UndeclaredImport(format!(
                "imports `{name}`; this host serves {WIT_PACKAGE}@{}",
                served_list()
            )));
        }
        if ALWAYS.contains(&iface) {
            continue;
        }
        match Capability::parse(iface) {
            Some(cap) if manifest.capabilities.contains(&cap) => {}
            Some(cap) => {
                return Err(RuntimeError::UndeclaredImport(format!(
                    "imports `{name}` but its manifest does not declare the `{}` capability; add `capabilities = [\"{}\"]` to plugin.toml",
                    cap.name(),
                    cap.name()
                )))
            }
            None => {
                return Err(RuntimeError::UndeclaredImport(format!(
                    "imports `{name}`, which the host does not provide"
                )))
            }
        }
    }
    Ok(contract)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn headers() {
        assert!(matches!(header(b"hello world"), Err(RuntimeError::NotWasm)));
        assert!(matches!(header(b"\0asm\x01\0\0\0"), Err(RuntimeError::CoreModule)));
        assert!(header(b"\0asm\x0d\0\x01\0").is_ok());
        assert_eq!(crm_interface("clientele:crm/loyalty@0.1.0"), Some(("loyalty", "0.1.0")));
        assert_eq!(crm_interface("wasi:io/streams@0.2.0"), None);
    }
}
