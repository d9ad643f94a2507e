//! Model size presets and the one place that maps a preset to each encoder's configuration.
//! Pretraining, fine-tuning (including the CGCNN baseline) and the encoder benchmark all take
//! their encoder sizes from here, so "small" means the same network everywhere.

use serde::{Deserialize, Serialize};

use crate::crystal::{CrystalConfig, CrystalKind};
use crate::encoders::cgcnn::CgcnnConfig;
use crate::encoders::charge_density::ResNeXt3dConfig;
use crate::encoders::dos::DosTransformerConfig;
use crate::encoders::potnet::PotNetConfig;
use crate::encoders::text::TextMlpConfig;

/// Energy-axis factor of the phonon-DOS encoder: cm⁻¹ → hundreds of cm⁻¹ (see
/// `DosTransformerConfig::energy_scale`).
pub const PHONON_ENERGY_SCALE: f64 = 0.01;

/// Model size preset.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize, Default)]
#[serde(rename_all = "snake_case")]
pub enum Preset {
    /// The paper's encoders (spec §2), latent 128.
    #[default]
    Paper,
    /// Small encoders for CPU demos and tests, latent 32.
    Small,
}

impl std::str::FromStr for Preset {
    type Err = String;
    fn from_str(s: &str) -> std::result::Result<Self, String> {
        match s.trim() {
            "paper" => Ok(Preset::Paper),
            "small" => Ok(Preset::Small),
            other => Err(format!("unknown preset `{other}`; use paper or small")),
        }
    }
}

impl Preset {
    /// Width of the shared latent space.
    pub fn latent_dim(self) -> usize {
        match self {
            Preset::Paper => 128,
            Preset::Small => 32,
        }
    }

    /// The crystal encoder `kind` at this size.
    pub fn crystal(self, kind: CrystalKind) -> CrystalConfig {
        match kind {
            CrystalKind::Potnet => CrystalConfig::Potnet(self.potnet()),
            CrystalKind::Cgcnn => CrystalConfig::Cgcnn(self.cgcnn()),
        }
    }

    /// PotNet, output = the latent width.
    pub fn potnet(self) -> PotNetConfig {
        match self {
            Preset::Paper => PotNetConfig::new(),
            Preset::Small => PotNetConfig::small(),
        }
        .with_embedding_dim(self.latent_dim())
    }

    /// CGCNN, output = the latent width.
    pub fn cgcnn(self) -> CgcnnConfig {
        match self {
            Preset::Paper => CgcnnConfig::new(),
            Preset::Small => CgcnnConfig::small(),
        }
        .with_embedding_dim(self.latent_dim())
    }

    /// The electronic-DOS Transformer (energies in eV), width = the latent width.
    pub fn dos(self) -> DosTransformerConfig {
        match self {
            Preset::Paper => DosTransformerConfig::new(),
            Preset::Small => DosTransformerConfig::small(),
        }
        .with_dim(self.latent_dim())
    }

    /// The phonon-DOS Transformer: the DOS Transformer with frequencies scaled from cm⁻¹ to
    /// hundreds of cm⁻¹ ([`PHONON_ENERGY_SCALE`]), without which every phonon spectrum, all on
    /// one 0–1000 cm⁻¹ grid, embeds alike.
    pub fn phonon_dos(self) -> DosTransformerConfig {
        self.dos().with_energy_scale(PHONON_ENERGY_SCALE)
    }

    /// The 3-D ResNeXt over the charge density, output = the latent width.
    pub fn density(self) -> ResNeXt3dConfig {
        match self {
            Preset::Paper => ResNeXt3dConfig::new(),
            Preset::Small => ResNeXt3dConfig::small(),
        }
        .with_d_output(self.latent_dim())
    }

    /// The text MLP, output = the latent width (the input width is the text vectors', 768 for
    /// MatBERT at `paper`, 384 for all-MiniLM-L6-v2 at `small`, until a store says otherwise).
    pub fn text(self) -> TextMlpConfig {
        match self {
            Preset::Paper => TextMlpConfig::new(),
            Preset::Small => TextMlpConfig::small(),
        }
        .with_d_output(self.latent_dim())
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn every_encoder_outputs_the_latent_width() {
        for p in [Preset::Paper, Preset::Small] {
            let w = p.latent_dim();
            assert_eq!(p.potnet().embedding_dim, w);
            assert_eq!(p.cgcnn().embedding_dim, w);
            assert_eq!(p.dos().dim, w);
            assert_eq!(p.phonon_dos().dim, w);
            assert_eq!(p.density().d_output, w);
            assert_eq!(p.text().d_output, w);
            assert_eq!(p.dos().energy_scale, 1.0);
            assert_eq!(p.phonon_dos().energy_scale, PHONON_ENERGY_SCALE);
        }
        assert_eq!("small".parse::<Preset>(), Ok(Preset::Small));
        assert!("tiny".parse::<Preset>().is_err());
    }
}
