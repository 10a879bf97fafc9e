//! Plain types shared by every layer. Imports nothing from the others.

#[macro_use]
mod text_enum;
pub mod campaign;
pub mod contact;
pub mod customer;
pub mod effect;
pub mod event;
pub mod ids;
pub mod ledger;
pub mod log;
pub mod manifest;
pub mod period;
pub mod privacy;
pub mod reaction;
pub mod rescue;
pub mod rollout;
pub mod segment;
pub mod states;
pub mod subject;
pub mod survey;
pub mod time;

/// The worlds and capabilities are the contract's names, shared with
/// `plugin build` (one table, in `clientele-plugin-build`).
pub use clientele_plugin_build::{Capability, World};

/// A stored text that names none of a closed set's values (written by a
/// newer version, or damaged).
#[derive(Debug, thiserror::Error)]
#[error("`{text}` is not a {kind} this version knows")]
pub struct UnknownText {
    pub kind: &'static str,
    pub text: String,
}

text_enum! {
    /// Data a plugin must ask for in its manifest (`scopes`) and the
    /// merchant grant when installing it (`grants`): `pii` is customers'
    /// e-mail, phone, name and birthday.
    pub enum DataScope {
        Pii = "pii",
    }
}
