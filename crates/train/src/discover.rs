//! Discovery from one spectrum (spec §5.2 for a single target): a DOS or phonon DOS read from
//! a file becomes the model input, is embedded by the run's spectrum encoder, and the candidate
//! crystals are ranked by cosine similarity to it. The CLI's `discover` only parses and prints.

use burn::tensor::{Device, Tensor, TensorData};
use multimat_eval::discovery::{nearest, Neighbour};
use multimat_eval::embeddings::normalize_rows;
use multimat_eval::Embeddings;
use multimat_modalities::dos::{self, Dos, SpectrumKind};

use crate::error::{Result, TrainError};
use multimat_model::Modality;
use multimat_model::{ArrayInput, MultiMat};

/// The store modality a spectrum belongs to: `phonon_dos` for phonon spectra, else `dos`.
pub fn spectrum_modality(spectrum: &Dos) -> Modality {
    match spectrum.kind {
        SpectrumKind::Phonon { .. } => Modality::PhononDos,
        _ => Modality::Dos,
    }
}

/// The `[1, 2, L]` model-input tensor of a spectrum (row 0 the energy or frequency axis, row 1
/// the density, resampled as at import with the default options).
pub fn spectrum_tensor(spectrum: &Dos, device: &Device) -> Result<Tensor<3>> {
    let input = dos::model_input(spectrum, &Default::default())?;
    let rows = input.to_rows();
    let len = rows.len() / 2;
    Ok(Tensor::<3>::from_data(
        TensorData::new(rows, [1, 2, len]),
        device,
    ))
}

/// The spectrum's embedding by `model` (in evaluation mode on `device`), L2-normalised.
pub fn embed_spectrum(model: &MultiMat, spectrum: &Dos, device: &Device) -> Result<Vec<f32>> {
    let modality = spectrum_modality(spectrum);
    let x = spectrum_tensor(spectrum, device)?;
    let emb = model.embed_array(modality, &ArrayInput::Spectrum(x))?;
    let mut target: Vec<f32> = emb
        .into_data()
        .convert::<f32>()
        .try_into_vec::<f32>()
        .map_err(|e| TrainError::Input(format!("reading the embedding back: {e:?}")))?;
    let dim = target.len();
    normalize_rows(&mut target, dim);
    Ok(target)
}

/// The `k` candidate crystals nearest to the spectrum's embedding, best first.
pub fn discover(
    model: &MultiMat,
    spectrum: &Dos,
    candidates: &Embeddings,
    k: usize,
    device: &Device,
) -> Result<Vec<Neighbour>> {
    let target = embed_spectrum(model, spectrum, device)?;
    Ok(nearest(&target, candidates, k)?)
}
