//! Plain types shared by every layer. Imports nothing from the others.

#[macro_use]
mod text_enum;
pub mod contact;
pub mod customer;
pub mod effect;
pub mod event;
pub mod ids;
pub mod ledger;
pub mod log;
pub mod manifest;
pub mod rescue;
pub mod rollout;
pub mod segment;
pub mod states;
pub mod survey;
pub mod time;

use serde::{Deserialize, Serialize};

/// The extension points a plugin can implement.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, Serialize, Deserialize, utoipa::ToSchema)]
#[serde(rename_all = "kebab-case")]
pub enum World {
    PointRules,
    Segmenter,
    SurveyScorer,
    ChurnRescue,
}

impl World {
    pub const ALL: [World; 4] =
        [World::PointRules, World::Segmenter, World::SurveyScorer, World::ChurnRescue];

    pub fn name(self) -> &'static str {
        match self {
            World::PointRules => "point-rules",
            World::Segmenter => "segmenter",
            World::SurveyScorer => "survey-scorer",
            World::ChurnRescue => "churn-rescue",
        }
    }

    pub fn parse(s: &str) -> Option<World> {
        World::ALL.into_iter().find(|w| w.name() == s)
    }

    /// The interface the world exports (without package and version).
    pub fn export_interface(self) -> &'static str {
        match self {
            World::PointRules => "loyalty",
            World::Segmenter => "segmentation",
            World::SurveyScorer => "scoring",
            World::ChurnRescue => "rescue",
        }
    }

    /// Whether a store may enable more than one install of this world.
    pub fn allows_many_installs(self) -> bool {
        matches!(self, World::Segmenter)
    }
}

impl TryFrom<String> for World {
    type Error = UnknownText;
    fn try_from(text: String) -> Result<World, UnknownText> {
        World::parse(&text).ok_or(UnknownText { kind: "World", text })
    }
}

/// A stored text that names none of a closed set's values (written by a
/// newer version, or damaged).
#[derive(Debug, thiserror::Error)]
#[error("`{text}` is not a {kind} this version knows")]
pub struct UnknownText {
    pub kind: &'static str,
    pub text: String,
}

impl std::fmt::Display for World {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str(self.name())
    }
}

/// Host interfaces a plugin must ask for in its manifest.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, PartialOrd, Ord, Serialize, Deserialize)]
#[serde(rename_all = "kebab-case")]
pub enum Capability {
    Messaging,
    State,
}

impl Capability {
    pub const ALL: [Capability; 2] = [Capability::Messaging, Capability::State];

    pub fn name(self) -> &'static str {
        match self {
            Capability::Messaging => "messaging",
            Capability::State => "state",
        }
    }

    pub fn parse(s: &str) -> Option<Capability> {
        Capability::ALL.into_iter().find(|c| c.name() == s)
    }
}

text_enum! {
    /// Data a plugin must ask for in its manifest (`scopes`) and the
    /// merchant grant when installing it (`grants`): `pii` is customers'
    /// e-mail, phone, name and birthday.
    pub enum DataScope {
        Pii = "pii",
    }
}
