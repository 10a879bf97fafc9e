//! The contract's names, written once: the worlds a plugin can implement
//! and the host interfaces it can ask for. The host reads manifests and
//! stores installs with these; `plugin build` writes a guest's world with
//! them.

use serde::{Deserialize, Serialize};
use strum::{EnumString, IntoStaticStr, VariantArray};

/// The extension points a plugin can implement.
#[derive(
    Debug,
    Clone,
    Copy,
    PartialEq,
    Eq,
    Hash,
    Serialize,
    Deserialize,
    EnumString,
    IntoStaticStr,
    VariantArray,
)]
#[cfg_attr(feature = "schema", derive(utoipa::ToSchema))]
#[serde(rename_all = "kebab-case")]
#[strum(serialize_all = "kebab-case")]
pub enum World {
    PointRules,
    Segmenter,
    SurveyScorer,
    ChurnRescue,
    /// Contract 0.5.0: events and timers (service recovery).
    Responder,
}

/// Host interfaces a plugin must ask for in its manifest.
#[derive(
    Debug,
    Clone,
    Copy,
    PartialEq,
    Eq,
    Hash,
    PartialOrd,
    Ord,
    Serialize,
    Deserialize,
    EnumString,
    IntoStaticStr,
    VariantArray,
)]
#[serde(rename_all = "kebab-case")]
#[strum(serialize_all = "kebab-case")]
pub enum Capability {
    Messaging,
    State,
    /// Customers' scored survey answers (contract 0.3.0).
    Surveys,
}

impl World {
    pub const ALL: &[World] = World::VARIANTS;

    pub fn name(self) -> &'static str {
        self.into()
    }

    pub fn parse(s: &str) -> Option<World> {
        s.parse().ok()
    }

    /// Every world's name, for messages: `a, b, c`.
    pub fn list() -> String {
        World::ALL.iter().map(|w| w.name()).collect::<Vec<_>>().join(", ")
    }

    /// The interface the world exports (without package and version).
    pub fn export_interface(self) -> &'static str {
        match self {
            World::PointRules => "loyalty",
            World::Segmenter => "segmentation",
            World::SurveyScorer => "scoring",
            World::ChurnRescue => "rescue",
            World::Responder => "reactions",
        }
    }

    /// Whether a store may enable more than one install of this world
    /// (survey-scorers: each scoring kinds no other scores; responders:
    /// each reacting on its own).
    pub fn allows_many_installs(self) -> bool {
        matches!(self, World::Segmenter | World::SurveyScorer | World::Responder)
    }
}

impl Capability {
    pub const ALL: &[Capability] = Capability::VARIANTS;

    pub fn name(self) -> &'static str {
        self.into()
    }

    pub fn parse(s: &str) -> Option<Capability> {
        s.parse().ok()
    }

    /// Every capability's name, for messages.
    pub fn list() -> String {
        Capability::ALL.iter().map(|c| c.name()).collect::<Vec<_>>().join(", ")
    }
}

impl std::fmt::Display for World {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str(self.name())
    }
}

impl std::fmt::Display for Capability {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str(self.name())
    }
}

/// A stored name that is no world this version knows (written by a newer
/// version, or damaged).
#[derive(Debug)]
pub struct UnknownWorld(pub String);

impl std::fmt::Display for UnknownWorld {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        write!(f, "`{}` is not a World this version knows", self.0)
    }
}

impl std::error::Error for UnknownWorld {}

impl TryFrom<String> for World {
    type Error = UnknownWorld;
    fn try_from(text: String) -> Result<World, UnknownWorld> {
        World::parse(&text).ok_or(UnknownWorld(text))
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn names_read_back() {
        for w in World::ALL {
            assert_eq!(World::parse(w.name()), Some(*w));
            assert_eq!(serde_json::to_value(w).unwrap(), w.name());
        }
        for c in Capability::ALL {
            assert_eq!(Capability::parse(c.name()), Some(*c));
        }
        assert_eq!(World::ChurnRescue.name(), "churn-rescue");
        assert_eq!(World::parse("churn_rescue"), None);
    }
}
