//! The crystal encoder, the anchor of the latent space: PotNet (the paper's) or CGCNN (the
//! baseline), chosen by [`CrystalKind`], configured by [`CrystalConfig`] and fed a batch of
//! graphs ([`CrystalInput`]). Pretraining, fine-tuning and prediction all hold it this way.

use burn::module::Module;
use burn::tensor::{Device, Tensor};
use serde::{Deserialize, Serialize};

use crate::encoders::cgcnn::{Cgcnn, CgcnnConfig, CgcnnInput};
use crate::encoders::potnet::{PotNet, PotNetConfig, PotNetInput};
use crate::error::ModelError;

/// Which network encodes the crystal.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize, Default)]
#[serde(rename_all = "snake_case")]
pub enum CrystalKind {
    /// PotNet with the infinite lattice sums (the paper's crystal encoder).
    #[default]
    Potnet,
    /// CGCNN (the spec §7 baseline).
    Cgcnn,
}

impl std::str::FromStr for CrystalKind {
    type Err = String;
    fn from_str(s: &str) -> std::result::Result<Self, String> {
        match s.trim() {
            "potnet" => Ok(CrystalKind::Potnet),
            "cgcnn" => Ok(CrystalKind::Cgcnn),
            other => Err(format!(
                "unknown crystal encoder `{other}`; use potnet or cgcnn"
            )),
        }
    }
}

/// The crystal encoder's configuration.
#[derive(Debug, Clone, Serialize, Deserialize)]
#[serde(tag = "kind", rename_all = "snake_case")]
pub enum CrystalConfig {
    /// PotNet.
    Potnet(PotNetConfig),
    /// CGCNN.
    Cgcnn(CgcnnConfig),
}

impl CrystalConfig {
    /// Which crystal encoder this is.
    pub fn kind(&self) -> CrystalKind {
        match self {
            CrystalConfig::Potnet(_) => CrystalKind::Potnet,
            CrystalConfig::Cgcnn(_) => CrystalKind::Cgcnn,
        }
    }

    /// Width of the encoder's output (the latent width in a MultiMat model).
    pub fn output_dim(&self) -> usize {
        match self {
            CrystalConfig::Potnet(c) => c.embedding_dim,
            CrystalConfig::Cgcnn(c) => c.embedding_dim,
        }
    }

    /// Builds the crystal encoder on `device`.
    pub fn init(&self, device: &Device) -> CrystalEncoder {
        match self {
            CrystalConfig::Potnet(c) => CrystalEncoder::Potnet(c.init(device)),
            CrystalConfig::Cgcnn(c) => CrystalEncoder::Cgcnn(c.init(device)),
        }
    }
}

/// The crystal encoder.
#[derive(Module, Debug)]
pub enum CrystalEncoder {
    /// PotNet (paper).
    Potnet(PotNet),
    /// CGCNN (baseline).
    Cgcnn(Cgcnn),
}

/// A batch of crystal graphs ready for the crystal encoder.
#[derive(Debug, Clone)]
pub enum CrystalInput {
    /// PotNet graphs.
    Potnet(PotNetInput),
    /// CGCNN graphs.
    Cgcnn(CgcnnInput),
}

impl CrystalEncoder {
    /// `[B graphs]` → `[B, latent]`. Errors if the input was built for the other encoder.
    pub fn forward(&self, input: &CrystalInput) -> Result<Tensor<2>, ModelError> {
        match (self, input) {
            (CrystalEncoder::Potnet(m), CrystalInput::Potnet(x)) => Ok(m.forward(x)),
            (CrystalEncoder::Cgcnn(m), CrystalInput::Cgcnn(x)) => Ok(m.forward(x)),
            _ => Err(ModelError::Input(
                "crystal graphs were built for the other crystal encoder".into(),
            )),
        }
    }
}
