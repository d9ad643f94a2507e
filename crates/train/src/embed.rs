//! Embedding materials of a store with a trained model (evaluation mode, no autodiff).

use burn::tensor::{Device, Tensor};
use multimat_dataset::Store;

use crate::data::{load_batch, CrystalGraphs};
use crate::error::{Result, TrainError};
use multimat_model::{Modality, MultiMat};

/// Embeddings of several materials in one modality.
#[derive(Debug, Clone, PartialEq)]
pub struct EmbeddingMatrix {
    /// Table positions of the embedded materials, in row order.
    pub indices: Vec<usize>,
    /// Latent width d.
    pub dim: usize,
    /// `n × d` row-major, L2-normalised when asked for.
    pub values: Vec<f32>,
}

fn to_vec(t: Tensor<2>) -> Result<Vec<f32>> {
    t.into_data()
        .convert::<f32>()
        .try_into_vec::<f32>()
        .map_err(|e| TrainError::Input(format!("reading embeddings back: {e:?}")))
}

/// Embeds `modality` of the materials at `indices` (all must have it; crystal needs a graph)
/// in batches of `batch_size`, calling `progress(done)` after each batch. `model` should be in
/// evaluation mode (`Module::valid`) on `device`. Rows are L2-normalised when `normalize`.
#[allow(clippy::too_many_arguments)] // each argument is a distinct input of one embedding pass
pub fn embed_modality(
    model: &MultiMat,
    store: &Store,
    graphs: &CrystalGraphs,
    modality: Modality,
    indices: &[usize],
    batch_size: usize,
    normalize: bool,
    device: &Device,
    progress: &mut dyn FnMut(usize),
) -> Result<EmbeddingMatrix> {
    let mut values = Vec::new();
    let mut dim = 0;
    let mods = [modality];
    for (k, chunk) in indices.chunks(batch_size.max(1)).enumerate() {
        let emb = match modality {
            Modality::Crystal => model.crystal.forward(&graphs.input(chunk, device)?)?,
            m => {
                let inputs = load_batch(store, graphs, chunk, &mods, device)?;
                let (x, exists) = inputs
                    .arrays
                    .get(&m)
                    .ok_or_else(|| TrainError::Input(format!("the batch has no `{m}` input")))?;
                if let Some(p) = exists.iter().position(|e| !e) {
                    return Err(TrainError::Input(format!(
                        "material {} has no `{m}`",
                        store.ids()[chunk[p]]
                    )));
                }
                model.embed_array(m, x)?
            }
        };
        dim = emb.dims()[1];
        values.extend(to_vec(emb)?);
        progress(((k + 1) * batch_size).min(indices.len()));
    }
    if normalize && dim > 0 {
        crate::validation::normalize_rows(&mut values, dim);
    }
    Ok(EmbeddingMatrix {
        indices: indices.to_vec(),
        dim,
        values,
    })
}

/// The materials at `indices` that have `modality` (a graph for the crystal, a row otherwise).
pub fn with_modality(
    store: &Store,
    graphs: &CrystalGraphs,
    modality: Modality,
    indices: &[usize],
) -> Result<Vec<usize>> {
    match modality.store_array() {
        None => Ok(indices.iter().copied().filter(|&i| graphs.has(i)).collect()),
        Some(name) => {
            let rows = store.modality_rows(name)?;
            Ok(indices
                .iter()
                .copied()
                .filter(|&i| rows[i].is_some() && graphs.has(i))
                .collect())
        }
    }
}
