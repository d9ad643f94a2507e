//! PotNet crystal encoder, MultiMat variant (spec §2.1).
//!
//! ```text
//! h    = Linear(92→F)(x)                                   no activation
//! e_ij = SiLU(Linear(K→F)(RBF_gauss_K(−0.75 / d_ij)))       local edges
//! s_ij = c₁·Coulomb + c₂·London + c₃·Pauli                  infinite edges
//! f_ij = BN_inf(softplus(Linear(64→F)(RBF_mq64(s_ij))))
//! edges = local ∪ infinite ; 3 × PotNetConv ; mean pool ; Linear(F→128)
//! ```
//!
//! Graphs arrive as borrowed slices ([`PotNetGraphView`] of the graphs crate) and are batched into tensors by
//! [`PotNetInput::from_graphs`], which offsets node indices per graph like PyG's
//! `Batch.from_data_list` (both the local and the infinite edge lists, gotcha 9).
//!
//! The module also holds what the crystal encoders share: the atom features, the per-graph
//! mean pool and the tensor helpers.

mod conv;
mod rbf;

pub use conv::PotNetConv;
pub use rbf::{gaussian_rbf, multiquadric_rbf, rbf_centers};

use burn::config::Config;
use burn::module::Module;
use burn::nn::{BatchNorm, BatchNormConfig, Linear, LinearConfig};
use burn::tensor::activation::{silu, softplus};
use burn::tensor::{Device, IndexingUpdateOp, Int, Tensor, TensorData};
use multimat_graphs::potnet::PotNetGraphView;

use crate::error::GraphInputError;

/// The numerator of the local-edge input: PotNet feeds −0.75/d (d in Å) to the Gaussian RBF,
/// a crude 1/r potential, instead of the distance itself (gotcha 5).
pub const LOCAL_EDGE_NUMERATOR: f64 = -0.75;

/// Width of the CGCNN one-hot atom features (spec §7.1).
pub const ATOM_FEATURES: usize = 92;

/// Hyper-parameters of [`PotNet`]. Defaults are the paper's (`config/potnet_config.py` with
/// MultiMat's overrides, spec §2.1).
#[derive(Config, Debug)]
pub struct PotNetConfig {
    /// Number of [`PotNetConv`] message-passing layers.
    #[config(default = 3)]
    pub conv_layers: usize,
    /// Width F of node and edge features.
    #[config(default = 256)]
    pub fc_features: usize,
    /// Number of multiquadric RBF bins of the infinite-edge potential.
    #[config(default = 64)]
    pub inf_edge_features: usize,
    /// Number of Gaussian RBF bins of the local edges (PotNet ties it to `fc_features`).
    #[config(default = 256)]
    pub local_rbf_bins: usize,
    /// First RBF centre (both expansions; dimensionless for the potential, Å⁻¹ for −0.75/d).
    #[config(default = "-4.0")]
    pub rbf_min: f64,
    /// Last RBF centre.
    #[config(default = 4.0)]
    pub rbf_max: f64,
    /// Weights (c₁, c₂, c₃) of the [Coulomb (Å⁻¹), London (Å⁻⁶), Pauli] lattice sums in the
    /// scalar infinite-edge potential.
    #[config(default = "[-0.801, -0.074, 0.145]")]
    pub potentials: [f64; 3],
    /// Width of the atom features (the CGCNN one-hot table has 92).
    #[config(default = 92)]
    pub atom_input: usize,
    /// Width of the output embedding (MultiMat's `--latent_dim`).
    #[config(default = 128)]
    pub embedding_dim: usize,
}

impl Default for PotNetConfig {
    fn default() -> Self {
        Self::new()
    }
}

impl PotNetConfig {
    /// A small model for CPU demos and tests: 2 layers of 64 features, 64 local bins,
    /// 32 infinite bins, 128-d output.
    pub fn small() -> Self {
        Self::new()
            .with_conv_layers(2)
            .with_fc_features(64)
            .with_local_rbf_bins(64)
            .with_inf_edge_features(32)
    }

    /// Builds the model on `device`. Linear layers use burn's default initialiser, which is
    /// PyTorch's: weight and bias U(±1/√fan_in) (Kaiming-uniform with gain 1/√3). Batch norms
    /// start at γ = 1, β = 0, running mean 0 and variance 1, ε = 1e-5, momentum 0.1.
    pub fn init(&self, device: &Device) -> PotNet {
        let f = self.fc_features;
        PotNet {
            atom_embedding: LinearConfig::new(self.atom_input, f).init(device),
            edge_embedding: LinearConfig::new(self.local_rbf_bins, f).init(device),
            infinite_linear: LinearConfig::new(self.inf_edge_features, f).init(device),
            infinite_bn: BatchNormConfig::new(f).init(device),
            conv_layers: (0..self.conv_layers)
                .map(|_| PotNetConv::new(f, device))
                .collect(),
            fc_out: LinearConfig::new(f, self.embedding_dim).init(device),
            local_rbf_bins: self.local_rbf_bins,
            inf_edge_features: self.inf_edge_features,
            rbf_min: self.rbf_min,
            rbf_max: self.rbf_max,
            coulomb_weight: self.potentials[0],
            london_weight: self.potentials[1],
            pauli_weight: self.potentials[2],
        }
    }
}

/// The PotNet encoder. Field names follow the PyTorch module (`atom_embedding`,
/// `edge_embedding.1`, `infinite_linear`, `infinite_bn`, `conv_layers.i`, `fc_out`) so that
/// checkpoints map one to one.
#[derive(Module, Debug)]
pub struct PotNet {
    /// Linear(92→F) atom embedding, no activation.
    pub atom_embedding: Linear,
    /// Linear(K→F) on the Gaussian RBF of −0.75/d, followed by SiLU.
    pub edge_embedding: Linear,
    /// Linear(64→F) on the multiquadric RBF of the infinite-edge potential, then softplus.
    pub infinite_linear: Linear,
    /// BatchNorm1d(F) over all infinite edges of the batch.
    pub infinite_bn: BatchNorm,
    /// The message-passing layers.
    pub conv_layers: Vec<PotNetConv>,
    /// Linear(F→128) on the mean-pooled node features (MultiMat's encoder head).
    pub fc_out: Linear,
    /// Number of Gaussian RBF bins of the local edges.
    pub local_rbf_bins: usize,
    /// Number of multiquadric RBF bins of the infinite edges.
    pub inf_edge_features: usize,
    /// First RBF centre.
    pub rbf_min: f64,
    /// Last RBF centre.
    pub rbf_max: f64,
    /// c₁, weight of the Coulomb sum (Å⁻¹).
    pub coulomb_weight: f64,
    /// c₂, weight of the London sum (Å⁻⁶).
    pub london_weight: f64,
    /// c₃, weight of the Pauli sum (dimensionless).
    pub pauli_weight: f64,
}

impl PotNet {
    /// Embeds a batch of crystals.
    ///
    /// Shapes: `input` holds N atoms, E local and P infinite edges of B graphs; the result is
    /// `[B, embedding_dim]`. Batch norms use batch statistics on an autodiff device (training)
    /// and their running statistics otherwise or after [`Module::valid`].
    pub fn forward(&self, input: &PotNetInput) -> Tensor<2> {
        let h = self.atom_embedding.forward(input.atom_features.clone());
        let edges = self.edge_features(input);
        let src = Tensor::cat(vec![input.local_src.clone(), input.infinite_src.clone()], 0);
        let dst = Tensor::cat(vec![input.local_dst.clone(), input.infinite_dst.clone()], 0);
        let h = self.conv_layers.iter().fold(h, |h, conv| {
            conv.forward(h, src.clone(), dst.clone(), edges.clone())
        });
        let pooled = mean_pool(h, input.graph_index.clone(), input.graph_sizes.clone());
        self.fc_out.forward(pooled)
    }

    /// Features of all edges, local rows first then infinite rows: `[E + P, F]`.
    pub fn edge_features(&self, input: &PotNetInput) -> Tensor<2> {
        let inverse = input
            .local_distance
            .clone()
            .recip()
            .mul_scalar(LOCAL_EDGE_NUMERATOR);
        let local = gaussian_rbf(inverse, self.rbf_min, self.rbf_max, self.local_rbf_bins);
        let local = silu(self.edge_embedding.forward(local));

        let attr = input.infinite_attr.clone();
        let potential = attr
            .clone()
            .narrow(1, 0, 1)
            .mul_scalar(self.coulomb_weight)
            .add(attr.clone().narrow(1, 1, 1).mul_scalar(self.london_weight))
            .add(attr.narrow(1, 2, 1).mul_scalar(self.pauli_weight));
        let [p, _] = potential.dims();
        let expanded = multiquadric_rbf(
            potential.reshape([p]),
            self.rbf_min,
            self.rbf_max,
            self.inf_edge_features,
        );
        let infinite = self
            .infinite_bn
            .forward(softplus(self.infinite_linear.forward(expanded), 1.0));
        Tensor::cat(vec![local, infinite], 0)
    }
}

/// A batch of crystal graphs as tensors on one device, indices already offset per graph.
#[derive(Debug, Clone)]
pub struct PotNetInput {
    /// `[N, 92]` CGCNN one-hot atom features.
    pub atom_features: Tensor<2>,
    /// `[E]` source atom of each local edge.
    pub local_src: Tensor<1, Int>,
    /// `[E]` target atom of each local edge.
    pub local_dst: Tensor<1, Int>,
    /// `[E]` local edge lengths, Å.
    pub local_distance: Tensor<1>,
    /// `[P]` source atom of each infinite edge (P = Σ N_g²).
    pub infinite_src: Tensor<1, Int>,
    /// `[P]` target atom of each infinite edge.
    pub infinite_dst: Tensor<1, Int>,
    /// `[P, 3]` lattice sums [Coulomb (Å⁻¹), London (Å⁻⁶), Pauli].
    pub infinite_attr: Tensor<2>,
    /// `[N]` graph of each atom, 0..B.
    pub graph_index: Tensor<1, Int>,
    /// `[B, 1]` number of atoms of each graph, as f32 for the mean pool.
    pub graph_sizes: Tensor<2>,
    /// B, the number of graphs.
    pub num_graphs: usize,
}

impl PotNetInput {
    /// Batches `graphs` onto `device`. Refuses an empty batch, empty graphs, elements without
    /// CGCNN features, edge arrays of unequal length, site indices out of range, non-positive or
    /// non-finite distances, and an infinite block that is not N²·3 finite numbers.
    pub fn from_graphs(
        graphs: &[PotNetGraphView],
        device: &Device,
    ) -> Result<Self, GraphInputError> {
        const ENCODER: &str = "PotNet";
        if graphs.is_empty() {
            return Err(GraphInputError::batch(ENCODER, "the batch holds no graph"));
        }
        let mut atoms = Vec::new();
        let (mut local_src, mut local_dst, mut local_distance) =
            (Vec::new(), Vec::new(), Vec::new());
        let (mut inf_src, mut inf_dst, mut inf_attr) = (Vec::new(), Vec::new(), Vec::new());
        let mut graph_index = Vec::new();
        let mut graph_sizes = Vec::with_capacity(graphs.len());
        let mut offset = 0i64;
        for (g, graph) in graphs.iter().enumerate() {
            let err =
                |place: &str, problem: String| GraphInputError::graph(ENCODER, g, place, problem);
            let n = graph.atomic_numbers.len();
            if n == 0 {
                return Err(err("atomic_numbers", "the graph has no atom".into()));
            }
            push_atom_features(&mut atoms, graph.atomic_numbers, |place, problem| {
                err(place, problem)
            })?;
            let e = graph.local_src.len();
            if graph.local_dst.len() != e || graph.local_distance.len() != e {
                return Err(err(
                    "local edges",
                    format!(
                        "{} sources, {} targets and {} distances; the three must be equal",
                        e,
                        graph.local_dst.len(),
                        graph.local_distance.len()
                    ),
                ));
            }
            for k in 0..e {
                let (s, t, d) = (
                    graph.local_src[k],
                    graph.local_dst[k],
                    graph.local_distance[k],
                );
                if s as usize >= n || t as usize >= n {
                    return Err(err(
                        &format!("local edge {k}"),
                        format!("edge {s} → {t} names a site beyond the {n} sites"),
                    ));
                }
                if !(d.is_finite() && d > 0.0) {
                    return Err(err(
                        &format!("local edge {k}"),
                        format!("distance {d} Å is not a positive finite number"),
                    ));
                }
                local_src.push(offset + s as i64);
                local_dst.push(offset + t as i64);
                local_distance.push(d);
            }
            if graph.infinite.len() != n * n * 3 {
                return Err(err(
                    "infinite",
                    format!(
                        "{} values for {n} sites; expected N²·3 = {}",
                        graph.infinite.len(),
                        n * n * 3
                    ),
                ));
            }
            if let Some(k) = graph.infinite.iter().position(|v| !v.is_finite()) {
                return Err(err(
                    &format!("infinite pair {}, column {}", k / 3, k % 3),
                    format!("value {} is not finite", graph.infinite[k]),
                ));
            }
            for k in 0..n * n {
                inf_src.push(offset + (k / n) as i64);
                inf_dst.push(offset + (k % n) as i64);
            }
            inf_attr.extend_from_slice(graph.infinite);
            graph_index.extend(std::iter::repeat_n(g as i64, n));
            graph_sizes.push(n as f32);
            offset += n as i64;
        }
        let n = offset as usize;
        let (e, p, b) = (local_src.len(), inf_src.len(), graphs.len());
        Ok(Self {
            atom_features: float_tensor(atoms, [n, ATOM_FEATURES], device),
            local_src: int_tensor(local_src, device),
            local_dst: int_tensor(local_dst, device),
            local_distance: float_tensor(local_distance, [e], device),
            infinite_src: int_tensor(inf_src, device),
            infinite_dst: int_tensor(inf_dst, device),
            infinite_attr: float_tensor(inf_attr, [p, 3], device),
            graph_index: int_tensor(graph_index, device),
            graph_sizes: float_tensor(graph_sizes, [b, 1], device),
            num_graphs: b,
        })
    }

    /// N, the number of atoms in the batch.
    pub fn num_atoms(&self) -> usize {
        self.graph_index.dims()[0]
    }

    /// E, the number of local edges in the batch.
    pub fn num_local_edges(&self) -> usize {
        self.local_src.dims()[0]
    }

    /// P, the number of infinite edges in the batch.
    pub fn num_infinite_edges(&self) -> usize {
        self.infinite_src.dims()[0]
    }

    /// The same batch on another device.
    pub fn to_device(self, device: &Device) -> Self {
        Self {
            atom_features: self.atom_features.to_device(device),
            local_src: self.local_src.to_device(device),
            local_dst: self.local_dst.to_device(device),
            local_distance: self.local_distance.to_device(device),
            infinite_src: self.infinite_src.to_device(device),
            infinite_dst: self.infinite_dst.to_device(device),
            infinite_attr: self.infinite_attr.to_device(device),
            graph_index: self.graph_index.to_device(device),
            graph_sizes: self.graph_sizes.to_device(device),
            num_graphs: self.num_graphs,
        }
    }
}

/// Appends the 92 CGCNN features of every Z; unknown elements are reported through `err`.
pub(crate) fn push_atom_features(
    out: &mut Vec<f32>,
    atomic_numbers: &[u8],
    err: impl Fn(&str, String) -> GraphInputError,
) -> Result<(), GraphInputError> {
    for (i, &z) in atomic_numbers.iter().enumerate() {
        match multimat_crystal::cgcnn_features(z) {
            Some(row) => out.extend_from_slice(row),
            None => {
                return Err(err(
                    &format!("site {i}"),
                    format!("Z = {z} has no CGCNN atom features (defined for Z = 1–100)"),
                ))
            }
        }
    }
    Ok(())
}

/// Mean of the node rows of each graph: `h` `[N, F]`, `graph_index` `[N]` with values in
/// 0..B, `graph_sizes` `[B, 1]` → `[B, F]` (PyG `global_mean_pool`).
pub fn mean_pool(h: Tensor<2>, graph_index: Tensor<1, Int>, graph_sizes: Tensor<2>) -> Tensor<2> {
    let [b, _] = graph_sizes.dims();
    let [_, f] = h.dims();
    let sums = Tensor::<2>::zeros([b, f], &h.device()).select_assign(
        0,
        graph_index,
        h,
        IndexingUpdateOp::Add,
    );
    sums.div(graph_sizes)
}

pub(crate) fn float_tensor<const D: usize>(
    values: Vec<f32>,
    shape: [usize; D],
    device: &Device,
) -> Tensor<D> {
    Tensor::from_data(TensorData::new(values, shape), device)
}

pub(crate) fn int_tensor(values: Vec<i64>, device: &Device) -> Tensor<1, Int> {
    let n = values.len();
    Tensor::from_data(TensorData::new(values, [n]), device)
}
