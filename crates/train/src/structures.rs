//! Structures that are not in a store, as model inputs: the crystal graph is built exactly as
//! the store's graph cache builds it (PotNet: `multimat_graphs::potnet::build` with the default
//! parameters; CGCNN: `multimat_graphs::cgcnn::build`), so a file embeds and predicts as the
//! same structure imported into a store would. `predict`, `embed FILES` and search share it.

use burn::tensor::{Device, Tensor, TensorData};
use multimat_crystal::Structure;
use multimat_graphs::{cgcnn as cgcnn_graph, potnet as potnet_graph};
use multimat_modalities::charge_density::{self, Resample, MODEL_GRID};
use multimat_model::encoders::cgcnn::CgcnnInput;
use multimat_model::encoders::potnet::PotNetInput;
use multimat_model::{ArrayInput, CrystalConfig, CrystalInput, Modality, MultiMat};

use crate::discover::spectrum_tensor;
use crate::error::{Result, TrainError};
use crate::validation::normalize_rows;

/// The crystal-encoder input of `chunk` (`(name, structure)`; the name is used in errors).
pub fn crystal_input(
    config: &CrystalConfig,
    chunk: &[(String, Structure)],
    device: &Device,
) -> Result<CrystalInput> {
    let graph_err = |name: &str, e: String| {
        TrainError::Input(format!("{name}: cannot build the crystal graph: {e}"))
    };
    match config {
        CrystalConfig::Potnet(_) => {
            let config = potnet_graph::PotNetConfig::default();
            let graphs = chunk
                .iter()
                .map(|(name, s)| {
                    potnet_graph::build(s, name, &config)
                        .map_err(|e| graph_err(name, e.to_string()))
                })
                .collect::<Result<Vec<_>>>()?;
            let views: Vec<_> = graphs.iter().map(|g| g.view()).collect();
            PotNetInput::from_graphs(&views, device)
                .map(CrystalInput::Potnet)
                .map_err(|e| TrainError::Input(e.to_string()))
        }
        CrystalConfig::Cgcnn(_) => {
            let config = cgcnn_graph::CgcnnConfig::default();
            let graphs = chunk
                .iter()
                .map(|(name, s)| {
                    cgcnn_graph::build(s, name, &config).map_err(|e| graph_err(name, e.to_string()))
                })
                .collect::<Result<Vec<_>>>()?;
            let views: Vec<_> = graphs.iter().map(|g| g.view()).collect();
            CgcnnInput::from_graphs(&views, device)
                .map(CrystalInput::Cgcnn)
                .map_err(|e| TrainError::Input(e.to_string()))
        }
    }
}

/// One input's embedding (L2-normalised), or why it has none (the message names the input).
pub type Embedded = std::result::Result<Vec<f32>, String>;

fn rows_of(t: Tensor<2>) -> Result<Vec<Vec<f32>>> {
    let dim = t.dims()[1];
    let mut v = t
        .into_data()
        .convert::<f32>()
        .try_into_vec::<f32>()
        .map_err(|e| TrainError::Input(format!("reading embeddings back: {e:?}")))?;
    normalize_rows(&mut v, dim);
    Ok(v.chunks(dim.max(1)).map(<[f32]>::to_vec).collect())
}

/// Crystal embeddings of `structures`, one [`Embedded`] per structure in order, in batches of
/// `batch_size`. A batch that fails is retried one structure at a time, so one structure
/// whose graph cannot be built costs only its own row (the model is in evaluation mode, so a
/// structure's embedding does not depend on its batch).
pub fn embed_structures(
    model: &MultiMat,
    crystal: &CrystalConfig,
    structures: &[(String, Structure)],
    batch_size: usize,
    device: &Device,
    progress: &mut dyn FnMut(usize),
) -> Vec<Embedded> {
    let one = |chunk: &[(String, Structure)]| -> Result<Vec<Vec<f32>>> {
        let input = crystal_input(crystal, chunk, device)?;
        rows_of(model.crystal.forward(&input)?)
    };
    let mut out = Vec::with_capacity(structures.len());
    for chunk in structures.chunks(batch_size.max(1)) {
        match one(chunk) {
            Ok(rows) => out.extend(rows.into_iter().map(Ok)),
            Err(_) if chunk.len() > 1 => out.extend(chunk.iter().map(|s| {
                one(std::slice::from_ref(s))
                    .map(|mut r| r.remove(0))
                    .map_err(|e| e.to_string())
            })),
            Err(e) => out.push(Err(e.to_string())),
        }
        progress(out.len());
    }
    out
}

/// The `[1, 1, 32, 32, 32]` model input of a volumetric file (CHGCAR, cube, pymatgen JSON),
/// resampled as at import.
pub fn density_tensor(path: &std::path::Path, device: &Device) -> Result<Tensor<5>> {
    let v = charge_density::read_volumetric(path).map_err(|e| TrainError::Input(e.to_string()))?;
    if !v.kind.is_charge_density() {
        return Err(TrainError::Input(format!(
            "{}: a {:?} file is not a charge density",
            path.display(),
            v.kind
        )));
    }
    let grid = charge_density::model_input(&v, Resample::Fourier)
        .map_err(|e| TrainError::Input(format!("{}: {e}", path.display())))?;
    let rows = charge_density::to_row_major(&grid, [MODEL_GRID; 3]);
    Ok(Tensor::<5>::from_data(
        TensorData::new(rows, [1, 1, MODEL_GRID, MODEL_GRID, MODEL_GRID]),
        device,
    ))
}

/// The embedding (L2-normalised) of one DOS / phonon DOS / charge-density file by the encoder
/// of `modality`. A spectrum file of the other kind (a phonon DOS given for `dos`) is refused.
pub fn embed_file(
    model: &MultiMat,
    modality: Modality,
    path: &std::path::Path,
    device: &Device,
) -> Result<Vec<f32>> {
    let x = match modality {
        Modality::Dos | Modality::PhononDos => {
            let d = multimat_modalities::dos::read_dos(path)
                .map_err(|e| TrainError::Input(e.to_string()))?;
            let kind = crate::discover::spectrum_modality(&d);
            if kind != modality {
                return Err(TrainError::Input(format!(
                    "{}: holds a `{kind}` spectrum, not `{modality}`",
                    path.display()
                )));
            }
            ArrayInput::Spectrum(
                spectrum_tensor(&d, device)
                    .map_err(|e| TrainError::Input(format!("{}: {e}", path.display())))?,
            )
        }
        Modality::Density => ArrayInput::Grid(density_tensor(path, device)?),
        other => {
            return Err(TrainError::Request(format!(
                "files embed as crystal, dos, phonon_dos or density, not `{other}`"
            )))
        }
    };
    Ok(rows_of(model.embed_array(modality, &x)?)?.remove(0))
}
