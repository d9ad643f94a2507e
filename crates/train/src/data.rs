//! From the dataset store to model inputs: crystal graphs (the store's graph caches, or CGCNN
//! graphs built on the fly) and the array modalities with their existence masks.

use std::collections::BTreeMap;

use burn::tensor::{Device, Tensor, TensorData};
use multimat_dataset::{collate, CgcnnCache, PotNetCache, Store};
use multimat_graphs::cgcnn::{self as cgcnn_graph, CgcnnGraph, CgcnnGraphView};
use multimat_model::encoders::cgcnn::CgcnnInput;
use multimat_model::encoders::potnet::PotNetInput;
use multimat_model::{ArrayInput, BatchInputs, CrystalInput, CrystalKind, Modality};
use rayon::prelude::*;

use crate::error::{Result, TrainError};

/// The crystal graphs of every material of a store, in memory.
pub enum CrystalGraphs {
    /// The store's PotNet graph cache (`multimat data graphs STORE`).
    Potnet(PotNetCache),
    /// The store's CGCNN graph cache (`multimat data graphs STORE --kind cgcnn`).
    CgcnnCache(CgcnnCache),
    /// CGCNN graphs built from the stored structures (`None` where a structure failed), when
    /// the store has no up-to-date CGCNN cache.
    Cgcnn(Vec<Option<CgcnnGraph>>),
}

impl CrystalGraphs {
    /// Loads the graphs `kind` needs: opens the PotNet cache (which must exist and be fresh);
    /// for CGCNN opens the cache when it is up to date, or else builds every graph in parallel
    /// (seconds for ten thousand materials; the same graphs the cache holds).
    pub fn load(store: &Store, kind: CrystalKind) -> Result<Self> {
        match kind {
            CrystalKind::Potnet => PotNetCache::open(store).map(CrystalGraphs::Potnet).map_err(|e| {
                TrainError::Input(format!(
                    "{e}\n(the PotNet crystal encoder reads the store's graph cache: run `multimat data graphs {}` first)",
                    store.dir().display()
                ))
            }),
            CrystalKind::Cgcnn => {
                if let Ok(cache) = CgcnnCache::open(store) {
                    return Ok(CrystalGraphs::CgcnnCache(cache));
                }
                let config = cgcnn_graph::CgcnnConfig::default();
                let graphs = (0..store.len())
                    .into_par_iter()
                    .map(|i| {
                        let s = store.structure(i).ok()?;
                        cgcnn_graph::build(&s, &store.ids()[i], &config).ok()
                    })
                    .collect();
                Ok(CrystalGraphs::Cgcnn(graphs))
            }
        }
    }

    /// The CGCNN graph of material `i`, if it has one.
    fn cgcnn(&self, i: usize) -> Option<CgcnnGraphView<'_>> {
        match self {
            CrystalGraphs::Potnet(_) => None,
            CrystalGraphs::CgcnnCache(c) => {
                Some(c.graph(i)).filter(|g| !g.atomic_numbers.is_empty())
            }
            CrystalGraphs::Cgcnn(g) => g.get(i).and_then(Option::as_ref).map(CgcnnGraph::view),
        }
    }

    /// Whether material `i` has a graph (materials whose graph failed are left out of training).
    pub fn has(&self, i: usize) -> bool {
        self.atoms(i) > 0
    }

    /// Number of atoms of material `i` (0 without a graph).
    pub fn atoms(&self, i: usize) -> usize {
        match self {
            CrystalGraphs::Potnet(c) => c.graph(i).atomic_numbers.len(),
            _ => self.cgcnn(i).map_or(0, |g| g.atomic_numbers.len()),
        }
    }

    /// The crystal input of the materials at `indices` on `device`.
    pub fn input(&self, indices: &[usize], device: &Device) -> Result<CrystalInput> {
        match self {
            CrystalGraphs::Potnet(cache) => {
                let views: Vec<_> = indices.iter().map(|&i| cache.graph(i)).collect();
                PotNetInput::from_graphs(&views, device)
                    .map(CrystalInput::Potnet)
                    .map_err(|e| TrainError::Input(e.to_string()))
            }
            _ => {
                let views: Vec<CgcnnGraphView> = indices
                    .iter()
                    .map(|&i| {
                        self.cgcnn(i).ok_or_else(|| {
                            TrainError::Input(format!("material {i} has no CGCNN graph"))
                        })
                    })
                    .collect::<Result<_>>()?;
                CgcnnInput::from_graphs(&views, device)
                    .map(CrystalInput::Cgcnn)
                    .map_err(|e| TrainError::Input(e.to_string()))
            }
        }
    }
}

/// Reads the array modalities `modalities` (crystal excluded) of `indices` and the crystal
/// graphs, and uploads them to `device`.
pub fn load_batch(
    store: &Store,
    graphs: &CrystalGraphs,
    indices: &[usize],
    modalities: &[Modality],
    device: &Device,
) -> Result<BatchInputs> {
    let crystal = graphs.input(indices, device)?;
    let names: Vec<&str> = modalities.iter().filter_map(|m| m.store_array()).collect();
    let batch = collate(store, indices, &names)?;
    let b = indices.len();
    let mut arrays = BTreeMap::new();
    for &m in modalities {
        let Some(name) = m.store_array() else {
            continue;
        };
        let (values, exists) = batch
            .modalities
            .get(name)
            .cloned()
            .ok_or_else(|| TrainError::Input(format!("the store has no `{name}` modality")))?;
        let shape = store
            .modality(name)
            .ok_or_else(|| TrainError::Input(format!("the store has no `{name}` modality")))?
            .shape()
            .to_vec();
        let input = match (m, shape.as_slice()) {
            (Modality::Dos | Modality::PhononDos, &[c, l]) => ArrayInput::Spectrum(
                Tensor::from_data(TensorData::new(values, [b, c, l]), device),
            ),
            (Modality::Density, &[c, x, y, z]) => ArrayInput::Grid(Tensor::from_data(
                TensorData::new(values, [b, c, x, y, z]),
                device,
            )),
            (Modality::Text, &[d]) => {
                ArrayInput::Vector(Tensor::from_data(TensorData::new(values, [b, d]), device))
            }
            (_, s) => {
                return Err(TrainError::Input(format!(
                "store modality `{name}` has row shape {s:?}, which the `{m}` encoder cannot take"
            )))
            }
        };
        arrays.insert(m, (input, exists));
    }
    Ok(BatchInputs {
        indices: indices.to_vec(),
        crystal,
        arrays,
    })
}

/// Width of the store's text vectors, if it has any.
pub fn text_dim(store: &Store) -> Option<usize> {
    store
        .modality("text")
        .and_then(|a| (a.shape().len() == 1).then(|| a.shape()[0]))
}

/// Checks that the store has every array modality the run needs, with a message that says
/// how to get it.
pub fn check_store_modalities(store: &Store, modalities: &[Modality]) -> Result<()> {
    for m in modalities {
        if let Some(name) = m.store_array() {
            if store.modality(name).is_none() {
                let have: Vec<&str> = store.modality_names().collect();
                let hint = match m {
                    Modality::Text => {
                        " (frozen text vectors: `multimat text embed --model DIR --data STORE`)"
                    }
                    Modality::Density => {
                        " (import CHGCARs, or set derive_density in the import recipe)"
                    }
                    _ => "",
                };
                return Err(TrainError::Input(format!(
                    "{}: the store has no `{name}` modality{hint}; it has: {}",
                    store.dir().display(),
                    if have.is_empty() {
                        "none".to_string()
                    } else {
                        have.join(", ")
                    }
                )));
            }
        }
    }
    Ok(())
}
