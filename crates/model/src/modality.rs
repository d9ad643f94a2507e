//! The modalities MultiMat aligns, with the one name each has in configs, the store, metrics
//! and the CLI. The charge density is `density` everywhere; `charge_density` is still read,
//! as older configs and commands wrote it.

use std::fmt;
use std::str::FromStr;

use serde::{Deserialize, Serialize};

/// A modality MultiMat can align. `crystal` is the anchor and always present.
#[derive(Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord, Hash, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum Modality {
    /// The crystal structure (PotNet or CGCNN graph).
    Crystal,
    /// Electronic density of states, `[2, 601]` (E − E_F in eV, states/eV).
    Dos,
    /// Phonon density of states, `[2, 601]` (frequency, density).
    PhononDos,
    /// Charge density `[1, 32, 32, 32]` (ρ·V, real or derived promolecular).
    #[serde(alias = "charge_density")]
    Density,
    /// Frozen text vector of the material's description.
    Text,
}

impl Modality {
    /// Every modality, anchor first.
    pub const ALL: [Modality; 5] = [
        Modality::Crystal,
        Modality::Dos,
        Modality::PhononDos,
        Modality::Density,
        Modality::Text,
    ];

    /// The name used in configs, metrics and the store (`crystal`, `dos`, `phonon_dos`,
    /// `density`, `text`).
    pub fn name(self) -> &'static str {
        match self {
            Modality::Crystal => "crystal",
            Modality::Dos => "dos",
            Modality::PhononDos => "phonon_dos",
            Modality::Density => "density",
            Modality::Text => "text",
        }
    }

    /// The store's array modality holding this modality's inputs (`None` for the crystal, which
    /// comes from the graph cache).
    pub fn store_array(self) -> Option<&'static str> {
        match self {
            Modality::Crystal => None,
            other => Some(other.name()),
        }
    }
}

impl fmt::Display for Modality {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(self.name())
    }
}

impl FromStr for Modality {
    type Err = String;

    fn from_str(s: &str) -> std::result::Result<Self, String> {
        let s = s.trim();
        Modality::ALL
            .into_iter()
            .find(|m| m.name() == s)
            .or(match s {
                "charge_density" => Some(Modality::Density),
                "phonon" => Some(Modality::PhononDos),
                "structure" => Some(Modality::Crystal),
                _ => None,
            })
            .ok_or_else(|| {
                format!("unknown modality {s:?}; known: crystal, dos, phonon_dos, density (charge_density), text")
            })
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn names_round_trip_and_old_names_still_read() {
        for m in Modality::ALL {
            assert_eq!(m.name().parse::<Modality>(), Ok(m));
            let json = serde_json::to_string(&m).unwrap();
            assert_eq!(json, format!("\"{}\"", m.name()));
        }
        assert_eq!("charge_density".parse::<Modality>(), Ok(Modality::Density));
        let old: Modality = serde_json::from_str("\"charge_density\"").unwrap();
        assert_eq!(old, Modality::Density);
        assert!("chg".parse::<Modality>().is_err());
    }
}
