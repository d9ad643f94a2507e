//! The MultiMat model: one encoder per modality, all mapping into one latent space (spec §2),
//! built from a serialisable [`ModelConfig`] so that a run directory can rebuild it, and
//! [`MultiMat::embed`], which turns a batch of every modality into latent vectors.

use std::collections::BTreeMap;

use burn::module::Module;
use burn::tensor::{Device, IndexingUpdateOp, Int, Tensor, TensorData};
use serde::{Deserialize, Serialize};

use crate::crystal::{CrystalConfig, CrystalEncoder, CrystalInput, CrystalKind};
use crate::encoders::charge_density::{ResNeXt3d, ResNeXt3dConfig};
use crate::encoders::dos::{DosTransformer, DosTransformerConfig};
use crate::encoders::text::{TextMlp, TextMlpConfig};
use crate::error::{EncoderError, ModelError};
use crate::loss::{LearnableTemperature, LearnableTemperatureConfig};
use crate::modality::Modality;
use crate::preset::Preset;

/// Result type of the MultiMat model.
pub type Result<T> = std::result::Result<T, ModelError>;

/// Partial overrides of the preset's encoder configurations: each is a table of the encoder
/// config's fields (e.g. `[encoders.potnet] conv_layers = 4`), applied on top of the preset.
#[derive(Debug, Clone, PartialEq, Default, Serialize, Deserialize)]
#[serde(default, deny_unknown_fields)]
pub struct EncoderOverrides {
    /// Fields of `PotNetConfig`.
    pub potnet: Option<serde_json::Map<String, serde_json::Value>>,
    /// Fields of `CgcnnConfig`.
    pub cgcnn: Option<serde_json::Map<String, serde_json::Value>>,
    /// Fields of `DosTransformerConfig` (both the electronic and the phonon DOS encoder).
    pub dos: Option<serde_json::Map<String, serde_json::Value>>,
    /// Fields of `ResNeXt3dConfig`.
    pub density: Option<serde_json::Map<String, serde_json::Value>>,
    /// Fields of `TextMlpConfig` (`d_input` always follows the store's text vectors).
    pub text: Option<serde_json::Map<String, serde_json::Value>>,
}

/// Everything needed to rebuild a [`MultiMat`] model; saved as `config.json` in a run.
#[derive(Debug, Clone, Serialize, Deserialize)]
pub struct ModelConfig {
    /// Width of the shared latent space (every encoder's output).
    pub latent_dim: usize,
    /// The crystal encoder.
    pub crystal: CrystalConfig,
    /// Electronic DOS encoder.
    pub dos: Option<DosTransformerConfig>,
    /// Phonon DOS encoder.
    pub phonon_dos: Option<DosTransformerConfig>,
    /// Charge-density encoder.
    pub density: Option<ResNeXt3dConfig>,
    /// Text MLP over the frozen text vectors.
    pub text: Option<TextMlpConfig>,
    /// Learnable temperature (absent: the reference's fixed τ).
    pub learnable_temperature: Option<LearnableTemperatureConfig>,
}

fn overlay<T: Serialize + serde::de::DeserializeOwned>(
    base: T,
    patch: &Option<serde_json::Map<String, serde_json::Value>>,
    name: &str,
) -> Result<T> {
    let Some(patch) = patch else { return Ok(base) };
    let mut value = serde_json::to_value(&base)
        .map_err(|e| ModelError::config(format!("encoders.{name}"), e.to_string()))?;
    let obj = value
        .as_object_mut()
        .ok_or_else(|| ModelError::config(format!("encoders.{name}"), "not a table"))?;
    for (k, v) in patch {
        if !obj.contains_key(k) {
            let known: Vec<&String> = obj.keys().collect();
            return Err(ModelError::config(
                format!("encoders.{name}.{k}"),
                format!("unknown field; known: {known:?}"),
            ));
        }
        obj.insert(k.clone(), v.clone());
    }
    serde_json::from_value(value)
        .map_err(|e| ModelError::config(format!("encoders.{name}"), e.to_string()))
}

impl ModelConfig {
    /// The model for `modalities` at `preset` with `overrides` applied; `text_dim` is the width
    /// of the store's frozen text vectors (needed when `text` is a modality).
    pub fn build(
        preset: Preset,
        crystal: CrystalKind,
        modalities: &[Modality],
        overrides: &EncoderOverrides,
        text_dim: Option<usize>,
        learnable_temperature: Option<LearnableTemperatureConfig>,
    ) -> Result<Self> {
        let crystal = match crystal {
            CrystalKind::Potnet => {
                CrystalConfig::Potnet(overlay(preset.potnet(), &overrides.potnet, "potnet")?)
            }
            CrystalKind::Cgcnn => {
                CrystalConfig::Cgcnn(overlay(preset.cgcnn(), &overrides.cgcnn, "cgcnn")?)
            }
        };
        let has = |m: Modality| modalities.contains(&m);
        let text = if has(Modality::Text) {
            let d_input = text_dim.ok_or_else(|| {
                ModelError::config("modalities", "`text` needs the store's frozen text vectors (modality `text`); run `multimat text embed` or import them")
            })?;
            let c: TextMlpConfig = overlay(preset.text(), &overrides.text, "text")?;
            Some(c.with_d_input(d_input))
        } else {
            None
        };
        // `[encoders.dos]` applies to both spectra; a user's `energy_scale` there replaces the
        // phonon encoder's cm⁻¹ scaling too.
        let config = Self {
            latent_dim: preset.latent_dim(),
            crystal,
            dos: has(Modality::Dos)
                .then(|| overlay(preset.dos(), &overrides.dos, "dos"))
                .transpose()?,
            phonon_dos: has(Modality::PhononDos)
                .then(|| overlay(preset.phonon_dos(), &overrides.dos, "dos"))
                .transpose()?,
            density: has(Modality::Density)
                .then(|| overlay(preset.density(), &overrides.density, "density"))
                .transpose()?,
            text,
            learnable_temperature,
        };
        config.check()?;
        Ok(config)
    }

    /// Checks that every encoder outputs `latent_dim` (the CLIP similarities need one width;
    /// the DOS encoder's output is its `dim`, spec §10 gotcha 21) and that each is valid.
    pub fn check(&self) -> Result<()> {
        let mut widths: Vec<(&str, usize)> = vec![("crystal", self.crystal.output_dim())];
        let invalid = |name: &str, e: String| ModelError::config(format!("encoders.{name}"), e);
        if let Some(c) = &self.dos {
            c.validate().map_err(|e| invalid("dos", e.to_string()))?;
            widths.push(("dos", c.dim));
        }
        if let Some(c) = &self.phonon_dos {
            c.validate().map_err(|e| invalid("dos", e.to_string()))?;
            widths.push(("phonon_dos", c.dim));
        }
        if let Some(c) = &self.density {
            c.validate()
                .map_err(|e| invalid("density", e.to_string()))?;
            widths.push(("density", c.d_output));
        }
        if let Some(c) = &self.text {
            c.validate().map_err(|e| invalid("text", e.to_string()))?;
            widths.push(("text", c.d_output));
        }
        for (name, w) in widths {
            if w != self.latent_dim {
                return Err(ModelError::config(
                    format!("encoders.{name}"),
                    format!("outputs {w} dimensions but the latent space has {}; every encoder must output the latent width", self.latent_dim),
                ));
            }
        }
        Ok(())
    }

    /// The modalities this model encodes, crystal first.
    pub fn modalities(&self) -> Vec<Modality> {
        let mut m = vec![Modality::Crystal];
        if self.dos.is_some() {
            m.push(Modality::Dos);
        }
        if self.phonon_dos.is_some() {
            m.push(Modality::PhononDos);
        }
        if self.density.is_some() {
            m.push(Modality::Density);
        }
        if self.text.is_some() {
            m.push(Modality::Text);
        }
        m
    }

    /// Which crystal encoder this is.
    pub fn crystal_kind(&self) -> CrystalKind {
        self.crystal.kind()
    }

    /// Builds the model with freshly initialised weights on `device`.
    pub fn init(&self, device: &Device) -> Result<MultiMat> {
        let temperature = match &self.learnable_temperature {
            Some(c) => Some(c.init(device)?),
            None => None,
        };
        Ok(MultiMat {
            crystal: self.crystal.init(device),
            dos: self.dos.as_ref().map(|c| c.init(device)),
            phonon_dos: self.phonon_dos.as_ref().map(|c| c.init(device)),
            density: self.density.as_ref().map(|c| c.init(device)),
            text: self.text.as_ref().map(|c| c.init(device)),
            temperature,
        })
    }
}

/// MultiMat: the encoders of every modality in the run (absent ones are `None`) and the
/// optional learnable temperature.
#[derive(Module, Debug)]
pub struct MultiMat {
    /// Crystal encoder (always present; the anchor).
    pub crystal: CrystalEncoder,
    /// Electronic DOS Transformer.
    pub dos: Option<DosTransformer>,
    /// Phonon DOS Transformer.
    pub phonon_dos: Option<DosTransformer>,
    /// 3-D ResNeXt over the charge density.
    pub density: Option<ResNeXt3d>,
    /// MLP over the frozen text vectors.
    pub text: Option<TextMlp>,
    /// Learnable temperature, when configured.
    pub temperature: Option<LearnableTemperature>,
}

/// The inputs of one batch: the crystal graphs and the array modalities (`[B, ...]` tensors
/// with zeros where a material lacks the modality) with their existence masks.
#[derive(Debug, Clone)]
pub struct BatchInputs {
    /// Table positions of the B materials.
    pub indices: Vec<usize>,
    /// The crystal graphs.
    pub crystal: CrystalInput,
    /// `dos`/`phonon_dos`: `[B, 2, 601]`; `density`: `[B, 1, 32, 32, 32]` stored as its
    /// flattened rank-5 tensor; `text`: `[B, d_text]`. Plus `exists` per row.
    pub arrays: BTreeMap<Modality, (ArrayInput, Vec<bool>)>,
}

/// One array modality of a batch as a tensor of the encoder's rank.
#[derive(Debug, Clone)]
pub enum ArrayInput {
    /// `[B, 2, L]` spectra.
    Spectrum(Tensor<3>),
    /// `[B, C, n, n, n]` grids.
    Grid(Tensor<5>),
    /// `[B, d]` vectors.
    Vector(Tensor<2>),
}

impl ArrayInput {
    /// The rows `idx` (`[n]` Int) of the batch.
    pub fn rows(&self, idx: Tensor<1, Int>) -> Self {
        match self {
            ArrayInput::Spectrum(x) => ArrayInput::Spectrum(x.clone().select(0, idx)),
            ArrayInput::Grid(x) => ArrayInput::Grid(x.clone().select(0, idx)),
            ArrayInput::Vector(x) => ArrayInput::Vector(x.clone().select(0, idx)),
        }
    }
}

impl MultiMat {
    /// The device the model's parameters live on (the CPU for a model without parameters).
    pub fn device(&self) -> Device {
        self.devices()
            .into_iter()
            .next()
            .unwrap_or_else(Device::flex)
    }

    /// Embeds every modality of `inputs` (not normalised): modality → `[B, latent]`, crystal
    /// first. Errors if the inputs hold a modality this model has no encoder for.
    ///
    /// Each array encoder sees only the rows that have its modality; the rows without it are
    /// zeros in the output (the losses mask them). This spends no work on zero-filled inputs
    /// and keeps them out of the encoders' BatchNorm statistics.
    pub fn embed(&self, inputs: &BatchInputs) -> Result<Vec<(Modality, Tensor<2>)>> {
        let crystal = self.crystal.forward(&inputs.crystal)?;
        let [b, latent] = crystal.dims();
        let device = crystal.device();
        let mut out = vec![(Modality::Crystal, crystal)];
        for (&m, (x, exists)) in &inputs.arrays {
            let present: Vec<i64> = (0..b as i64).filter(|&i| exists[i as usize]).collect();
            let e = if present.len() == b {
                self.embed_array(m, x)?
            } else if present.is_empty() {
                Tensor::zeros([b, latent], &device)
            } else {
                let n = present.len();
                let idx = Tensor::<1, Int>::from_data(TensorData::new(present, [n]), &device);
                let e = self.embed_array(m, &x.rows(idx.clone()))?;
                Tensor::zeros([b, latent], &device).select_assign(0, idx, e, IndexingUpdateOp::Add)
            };
            out.push((m, e));
        }
        Ok(out)
    }

    /// Embeds one array modality: `[B, ...]` → `[B, latent]`.
    pub fn embed_array(&self, modality: Modality, x: &ArrayInput) -> Result<Tensor<2>> {
        let missing = || {
            ModelError::Input(format!(
                "the model has no `{modality}` encoder (it was trained on other modalities)"
            ))
        };
        let shape_err = |e: EncoderError| ModelError::Input(format!("{modality}: {e}"));
        let out = match (modality, x) {
            (Modality::Dos, ArrayInput::Spectrum(x)) => {
                self.dos.as_ref().map(|e| e.try_forward(x.clone()))
            }
            (Modality::PhononDos, ArrayInput::Spectrum(x)) => {
                self.phonon_dos.as_ref().map(|e| e.try_forward(x.clone()))
            }
            (Modality::Density, ArrayInput::Grid(x)) => {
                self.density.as_ref().map(|e| e.try_forward(x.clone()))
            }
            (Modality::Text, ArrayInput::Vector(x)) => {
                self.text.as_ref().map(|e| e.try_forward(x.clone()))
            }
            _ => {
                return Err(ModelError::Input(format!(
                    "`{modality}` got an input of the wrong kind"
                )))
            }
        };
        out.ok_or_else(missing)?.map_err(shape_err)
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::trainable_params;

    fn all() -> Vec<Modality> {
        Modality::ALL.to_vec()
    }

    #[test]
    fn paper_preset_has_the_papers_parameter_counts() {
        let c = ModelConfig::build(
            Preset::Paper,
            CrystalKind::Potnet,
            &[Modality::Crystal, Modality::Text],
            &EncoderOverrides::default(),
            Some(768),
            None,
        )
        .unwrap();
        let m = c.init(&Device::flex()).unwrap();
        assert_eq!(trainable_params(&m), 1_718_656 + 722_048);
    }

    #[test]
    fn small_preset_has_one_latent_width_and_round_trips_as_json() {
        let c = ModelConfig::build(
            Preset::Small,
            CrystalKind::Cgcnn,
            &all(),
            &EncoderOverrides::default(),
            Some(384),
            None,
        )
        .unwrap();
        assert_eq!(c.modalities(), all());
        let json = serde_json::to_string(&c).unwrap();
        let back: ModelConfig = serde_json::from_str(&json).unwrap();
        assert_eq!(serde_json::to_string(&back).unwrap(), json);
        assert_eq!(back.crystal_kind(), CrystalKind::Cgcnn);
    }

    #[test]
    fn phonon_spectra_are_scaled_to_hundreds_of_wavenumbers() {
        let c = ModelConfig::build(
            Preset::Small,
            CrystalKind::Cgcnn,
            &[Modality::Crystal, Modality::Dos, Modality::PhononDos],
            &EncoderOverrides::default(),
            None,
            None,
        )
        .unwrap();
        assert_eq!(c.dos.as_ref().unwrap().energy_scale, 1.0);
        assert_eq!(c.phonon_dos.as_ref().unwrap().energy_scale, 0.01);
        // A scale the user sets is theirs, for both spectra.
        let mut t = serde_json::Map::new();
        t.insert("energy_scale".into(), 0.5.into());
        let o = EncoderOverrides {
            dos: Some(t),
            ..Default::default()
        };
        let c = ModelConfig::build(
            Preset::Small,
            CrystalKind::Cgcnn,
            &[Modality::Crystal, Modality::PhononDos],
            &o,
            None,
            None,
        )
        .unwrap();
        assert_eq!(c.phonon_dos.as_ref().unwrap().energy_scale, 0.5);
    }

    #[test]
    fn overrides_apply_and_bad_ones_are_named() {
        let mut o = EncoderOverrides::default();
        let mut t = serde_json::Map::new();
        t.insert("conv_layers".into(), 1.into());
        o.potnet = Some(t);
        let c = ModelConfig::build(
            Preset::Small,
            CrystalKind::Potnet,
            &[Modality::Crystal, Modality::Dos],
            &o,
            None,
            None,
        )
        .unwrap();
        match c.crystal {
            CrystalConfig::Potnet(p) => assert_eq!(p.conv_layers, 1),
            _ => unreachable!(),
        }
        let mut t = serde_json::Map::new();
        t.insert("convlayers".into(), 1.into());
        o.potnet = Some(t);
        let e = ModelConfig::build(
            Preset::Small,
            CrystalKind::Potnet,
            &[Modality::Crystal],
            &o,
            None,
            None,
        )
        .unwrap_err();
        assert!(e.to_string().contains("encoders.potnet.convlayers"), "{e}");
        let mut t = serde_json::Map::new();
        t.insert("dim".into(), 16.into());
        let o = EncoderOverrides {
            dos: Some(t),
            ..Default::default()
        };
        let e = ModelConfig::build(
            Preset::Small,
            CrystalKind::Potnet,
            &[Modality::Crystal, Modality::Dos],
            &o,
            None,
            None,
        )
        .unwrap_err();
        assert!(e.to_string().contains("latent"), "{e}");
        let e = ModelConfig::build(
            Preset::Small,
            CrystalKind::Potnet,
            &[Modality::Crystal, Modality::Text],
            &EncoderOverrides::default(),
            None,
            None,
        )
        .unwrap_err();
        assert!(e.to_string().contains("text"), "{e}");
    }
}
