//! From the dataset store to model inputs: crystal graphs (PotNet graph cache, or CGCNN graphs
//! built on the fly) and the array modalities with their existence masks.

use std::collections::BTreeMap;

use burn::tensor::{Device, Tensor, TensorData};
use multimat_dataset::{collate, PotNetCache, Store};
use multimat_graphs::cgcnn::{self as cgcnn_graph, CgcnnGraph};
use multimat_model::encoders::cgcnn::{CgcnnGraphRef, CgcnnInput};
use multimat_model::encoders::potnet::{PotNetGraphRef, PotNetInput};
use rayon::prelude::*;

use crate::config::Modality;
use crate::error::{Result, TrainError};
use crate::model::{ArrayInput, BatchInputs, CrystalInput, CrystalKind};

/// The crystal graphs of every material of a store, in memory.
pub enum CrystalGraphs {
    /// The store's PotNet graph cache (`multimat data graphs STORE`).
    Potnet(PotNetCache),
    /// Atomic numbers and CGCNN graphs built from the stored structures (`None` where a
    /// structure failed).
    Cgcnn(Vec<Option<(Vec<u8>, CgcnnGraph)>>),
}

impl CrystalGraphs {
    /// Loads the graphs `kind` needs: opens the PotNet cache (which must exist and be fresh),
    /// or builds every CGCNN graph in parallel (seconds for ten thousand materials).
    pub fn load(store: &Store, kind: CrystalKind) -> Result<Self> {
        match kind {
            CrystalKind::Potnet => PotNetCache::open(store).map(CrystalGraphs::Potnet).map_err(|e| {
                TrainError::Input(format!(
                    "{e}\n(the PotNet crystal encoder reads the store's graph cache: run `multimat data graphs {}` first)",
                    store.dir().display()
                ))
            }),
            CrystalKind::Cgcnn => {
                let config = cgcnn_graph::CgcnnConfig::default();
                let graphs = (0..store.len())
                    .into_par_iter()
                    .map(|i| {
                        let s = store.structure(i).ok()?;
                        let id = &store.ids()[i];
                        let z = s.atomic_numbers(id).ok()?;
                        let g = cgcnn_graph::build(&s, id, &config).ok()?;
                        Some((z, g))
                    })
                    .collect();
                Ok(CrystalGraphs::Cgcnn(graphs))
            }
        }
    }

    /// Whether material `i` has a graph (materials whose graph failed are left out of training).
    pub fn has(&self, i: usize) -> bool {
        match self {
            CrystalGraphs::Potnet(c) => !c.graph(i).atomic_numbers.is_empty(),
            CrystalGraphs::Cgcnn(g) => g.get(i).is_some_and(Option::is_some),
        }
    }

    /// Number of atoms of material `i` (0 without a graph).
    pub fn atoms(&self, i: usize) -> usize {
        match self {
            CrystalGraphs::Potnet(c) => c.graph(i).atomic_numbers.len(),
            CrystalGraphs::Cgcnn(g) => g
                .get(i)
                .and_then(Option::as_ref)
                .map_or(0, |(z, _)| z.len()),
        }
    }

    /// The crystal input of the materials at `indices` on `device`.
    pub fn input(&self, indices: &[usize], device: &Device) -> Result<CrystalInput> {
        match self {
            CrystalGraphs::Potnet(cache) => {
                let views: Vec<_> = indices.iter().map(|&i| cache.graph(i)).collect();
                let refs: Vec<PotNetGraphRef> = views
                    .iter()
                    .map(|v| PotNetGraphRef {
                        atomic_numbers: v.atomic_numbers,
                        local_src: v.local_src,
                        local_dst: v.local_dst,
                        local_distance: v.local_distance,
                        infinite: v.infinite,
                    })
                    .collect();
                PotNetInput::from_graphs(&refs, device)
                    .map(CrystalInput::Potnet)
                    .map_err(|e| TrainError::Input(e.to_string()))
            }
            CrystalGraphs::Cgcnn(graphs) => {
                let gs: Vec<&(Vec<u8>, CgcnnGraph)> = indices
                    .iter()
                    .map(|&i| {
                        graphs.get(i).and_then(Option::as_ref).ok_or_else(|| {
                            TrainError::Input(format!("material {i} has no CGCNN graph"))
                        })
                    })
                    .collect::<Result<_>>()?;
                let refs: Vec<CgcnnGraphRef> = gs
                    .iter()
                    .map(|(z, g)| CgcnnGraphRef {
                        atomic_numbers: z,
                        neighbor_index: &g.neighbor_index,
                        neighbor_distance: &g.neighbor_distance,
                    })
                    .collect();
                CgcnnInput::from_graphs(&refs, device)
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
