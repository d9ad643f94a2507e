//! CGCNN crystal encoder (txie-93/cgcnn `CrystalGraphConvNet`, spec §7.3), as MultiMat uses
//! it for fine-tuning baselines (spec §2.5): the final Linear(128→1) becomes Linear(128→128).
//!
//! ```text
//! h = Linear(92→64)(x)
//! 3 × ConvLayer: z = BN1(Linear(2·64+41→128)(h_i ‖ h_nbr ‖ u_ik)) over all N·12 slots,
//!                s_i = Σ_k sigmoid(z_filter) ⊙ softplus(z_core), h_i = softplus(h_i + BN2(s_i))
//! g = mean_i h_i ; g = softplus(Linear(64→128)(softplus(g))) ; out = Linear(128→128)(g)
//! ```
//!
//! Parameter count at the default size (weights + biases, BN γ and β):
//! embedding 92·64 + 64 = 5,952; each ConvLayer 169·128 + 128 = 21,760 plus BN1 2·128 = 256
//! and BN2 2·64 = 128, i.e. 22,144, times 3 = 66,432; conv_to_fc 64·128 + 128 = 8,320;
//! fc_out 128·128 + 128 = 16,512. Total 5,952 + 66,432 + 8,320 + 16,512 = **97,216**.

use burn::config::Config;
use burn::module::Module;
use burn::nn::{BatchNorm, BatchNormConfig, Linear, LinearConfig};
use burn::tensor::activation::{sigmoid, softplus};
use burn::tensor::{Device, Int, Tensor};

use multimat_graphs::cgcnn::CgcnnGraphView;

use super::potnet::{float_tensor, int_tensor, mean_pool, push_atom_features, ATOM_FEATURES};
use crate::error::GraphInputError;

/// Hyper-parameters of [`Cgcnn`]; defaults are CGCNN's with MultiMat's 128-d output.
#[derive(Config, Debug)]
pub struct CgcnnConfig {
    /// Width of the atom features (the CGCNN one-hot table has 92).
    #[config(default = 92)]
    pub atom_input: usize,
    /// Width of the atom hidden features (`atom_fea_len`).
    #[config(default = 64)]
    pub atom_fea_len: usize,
    /// Number of convolution layers (`n_conv`).
    #[config(default = 3)]
    pub n_conv: usize,
    /// Width of the crystal-level hidden layer (`h_fea_len`).
    #[config(default = 128)]
    pub h_fea_len: usize,
    /// Number of crystal-level hidden layers (`n_h`); n_h − 1 extra Linear+softplus after the
    /// first.
    #[config(default = 1)]
    pub n_h: usize,
    /// Width of the output embedding.
    #[config(default = 128)]
    pub embedding_dim: usize,
    /// Width of the Gaussian distance expansion; must equal [`GaussianDistance::len`] of the
    /// expansion used to build the input (41 for 0–8 Å in 0.2 Å steps).
    #[config(default = 41)]
    pub nbr_fea_len: usize,
}

impl Default for CgcnnConfig {
    fn default() -> Self {
        Self::new()
    }
}

impl CgcnnConfig {
    /// A small model for CPU demos and tests: 32 atom features, 2 layers, 64-d hidden.
    pub fn small() -> Self {
        Self::new()
            .with_atom_fea_len(32)
            .with_n_conv(2)
            .with_h_fea_len(64)
    }

    /// Builds the model on `device` with PyTorch's default initialisation (Linear U(±1/√fan_in),
    /// BN γ = 1, β = 0).
    pub fn init(&self, device: &Device) -> Cgcnn {
        let f = self.atom_fea_len;
        Cgcnn {
            embedding: LinearConfig::new(self.atom_input, f).init(device),
            convs: (0..self.n_conv)
                .map(|_| CgcnnConv::new(f, self.nbr_fea_len, device))
                .collect(),
            conv_to_fc: LinearConfig::new(f, self.h_fea_len).init(device),
            fcs: (1..self.n_h.max(1))
                .map(|_| LinearConfig::new(self.h_fea_len, self.h_fea_len).init(device))
                .collect(),
            fc_out: LinearConfig::new(self.h_fea_len, self.embedding_dim).init(device),
        }
    }
}

/// The CGCNN encoder. Field names follow the PyTorch module.
#[derive(Module, Debug)]
pub struct Cgcnn {
    /// Linear(92→64) atom embedding.
    pub embedding: Linear,
    /// The convolution layers.
    pub convs: Vec<CgcnnConv>,
    /// Linear(64→128) after the pool.
    pub conv_to_fc: Linear,
    /// The n_h − 1 extra Linear(128→128) layers (none by default).
    pub fcs: Vec<Linear>,
    /// Linear(128→128) output layer (MultiMat's replacement of Linear(128→1)).
    pub fc_out: Linear,
}

impl Cgcnn {
    /// Embeds a batch of crystals: `input` with N atoms and M neighbour slots per atom in B
    /// graphs → `[B, embedding_dim]`.
    pub fn forward(&self, input: &CgcnnInput) -> Tensor<2> {
        let mut h = self.embedding.forward(input.atom_features.clone());
        for conv in &self.convs {
            h = conv.forward(
                h,
                input.neighbor_index.clone(),
                input.neighbor_features.clone(),
            );
        }
        let pooled = mean_pool(h, input.graph_index.clone(), input.graph_sizes.clone());
        let mut g = softplus(self.conv_to_fc.forward(softplus(pooled, 1.0)), 1.0);
        for fc in &self.fcs {
            g = softplus(fc.forward(g), 1.0);
        }
        self.fc_out.forward(g)
    }
}

/// CGCNN `ConvLayer`. Fields: `fc_full`, `bn1`, `bn2` as in PyTorch.
#[derive(Module, Debug)]
pub struct CgcnnConv {
    /// Linear(2F + G → 2F) on (h_i ‖ h_neighbour ‖ u_ik).
    pub fc_full: Linear,
    /// BatchNorm1d(2F) over all N·M neighbour slots.
    pub bn1: BatchNorm,
    /// BatchNorm1d(F) over the summed neighbour messages.
    pub bn2: BatchNorm,
}

impl CgcnnConv {
    /// A layer with F = `atom_fea_len` and G = `nbr_fea_len`.
    pub fn new(atom_fea_len: usize, nbr_fea_len: usize, device: &Device) -> Self {
        let f = atom_fea_len;
        Self {
            fc_full: LinearConfig::new(2 * f + nbr_fea_len, 2 * f).init(device),
            bn1: BatchNormConfig::new(2 * f).init(device),
            bn2: BatchNormConfig::new(f).init(device),
        }
    }

    /// `h` `[N, F]`, `neighbor_index` `[N·M]` (row-major slots), `neighbor_features`
    /// `[N, M, G]` → `[N, F]`.
    pub fn forward(
        &self,
        h: Tensor<2>,
        neighbor_index: Tensor<1, Int>,
        neighbor_features: Tensor<3>,
    ) -> Tensor<2> {
        let [n, f] = h.dims();
        let [_, m, _] = neighbor_features.dims();
        let neighbours = h.clone().select(0, neighbor_index).reshape([n, m, f]);
        let centre = h.clone().unsqueeze_dim::<3>(1).expand([n, m, f]);
        let total = Tensor::cat(vec![centre, neighbours, neighbor_features], 2);
        let gated = self.fc_full.forward(total).reshape([n * m, 2 * f]);
        let gated = self.bn1.forward(gated).reshape([n, m, 2 * f]);
        let filter = sigmoid(gated.clone().narrow(2, 0, f));
        let core = softplus(gated.narrow(2, f, f), 1.0);
        let summed = filter.mul(core).sum_dim(1).reshape([n, f]);
        softplus(h.add(self.bn2.forward(summed)), 1.0)
    }
}

/// CGCNN's `GaussianDistance`: centres `min, min + step, …` up to `max` inclusive and
/// exp(−(d − μ)²/σ²). Distances in Å.
#[derive(Debug, Clone, PartialEq)]
pub struct GaussianDistance {
    /// Centres μ_k, Å.
    pub centres: Vec<f64>,
    /// Width σ, Å.
    pub width: f64,
}

impl Default for GaussianDistance {
    /// CGCNN's defaults: 0 to 8 Å (the neighbour radius) in 0.2 Å steps, σ = 0.2 Å: 41 centres.
    fn default() -> Self {
        Self::new(0.0, 8.0, 0.2, 0.2)
    }
}

impl GaussianDistance {
    /// Centres as NumPy's `arange(min, max + step, step)` (k·step + min, k < ⌈(max + step −
    /// min)/step⌉), width `width`.
    pub fn new(min: f64, max: f64, step: f64, width: f64) -> Self {
        let count = ((max + step - min) / step).ceil().max(0.0) as usize;
        Self {
            centres: (0..count).map(|k| min + k as f64 * step).collect(),
            width,
        }
    }

    /// Number of centres (41 by default).
    pub fn len(&self) -> usize {
        self.centres.len()
    }

    /// Whether there are no centres.
    pub fn is_empty(&self) -> bool {
        self.centres.is_empty()
    }

    /// Appends the expansion of distance `d` (Å) to `out`.
    pub fn expand_into(&self, d: f64, out: &mut Vec<f32>) {
        let inv = 1.0 / (self.width * self.width);
        out.extend(
            self.centres
                .iter()
                .map(|mu| (-(d - mu) * (d - mu) * inv).exp() as f32),
        );
    }
}

/// A batch of CGCNN graphs as tensors, neighbour indices offset per graph.
#[derive(Debug, Clone)]
pub struct CgcnnInput {
    /// `[N, 92]` CGCNN one-hot atom features.
    pub atom_features: Tensor<2>,
    /// `[N·M]` neighbour atom of each slot.
    pub neighbor_index: Tensor<1, Int>,
    /// `[N, M, G]` Gaussian-expanded slot distances.
    pub neighbor_features: Tensor<3>,
    /// `[N]` graph of each atom.
    pub graph_index: Tensor<1, Int>,
    /// `[B, 1]` atoms per graph.
    pub graph_sizes: Tensor<2>,
    /// B, the number of graphs.
    pub num_graphs: usize,
}

impl CgcnnInput {
    /// Batches `graphs` onto `device` with the default Gaussian expansion (41 centres).
    pub fn from_graphs(
        graphs: &[CgcnnGraphView],
        device: &Device,
    ) -> Result<Self, GraphInputError> {
        Self::from_graphs_with(graphs, &GaussianDistance::default(), device)
    }

    /// Batches `graphs` with the expansion `gauss`. Every graph must have the same number of
    /// neighbour slots M per atom (taken from the first graph); refuses empty batches or
    /// graphs, unknown elements, arrays whose length is not N·M, indices out of range and
    /// negative or non-finite distances.
    pub fn from_graphs_with(
        graphs: &[CgcnnGraphView],
        gauss: &GaussianDistance,
        device: &Device,
    ) -> Result<Self, GraphInputError> {
        const ENCODER: &str = "CGCNN";
        let Some(first) = graphs.first() else {
            return Err(GraphInputError::batch(ENCODER, "the batch holds no graph"));
        };
        let first_n = first.atomic_numbers.len();
        if first_n == 0 {
            return Err(GraphInputError::graph(
                ENCODER,
                0,
                "atomic_numbers",
                "the graph has no atom".into(),
            ));
        }
        let m = first.neighbor_index.len() / first_n;
        if m == 0 {
            return Err(GraphInputError::graph(
                ENCODER,
                0,
                "neighbor_index",
                format!(
                    "{} slots for {first_n} sites: no neighbour per site",
                    first.neighbor_index.len()
                ),
            ));
        }
        let mut atoms = Vec::new();
        let mut index = Vec::new();
        let mut features = Vec::new();
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
            for (name, len) in [
                ("neighbor_index", graph.neighbor_index.len()),
                ("neighbor_distance", graph.neighbor_distance.len()),
            ] {
                if len != n * m {
                    return Err(err(
                        name,
                        format!("{len} slots for {n} sites; expected N·M = {} with M = {m} as in graph 0", n * m),
                    ));
                }
            }
            for (slot, (&j, &d)) in graph
                .neighbor_index
                .iter()
                .zip(graph.neighbor_distance)
                .enumerate()
            {
                let place = || format!("site {}, neighbour slot {}", slot / m, slot % m);
                if j as usize >= n {
                    return Err(err(
                        &place(),
                        format!("neighbour {j} is beyond the {n} sites"),
                    ));
                }
                if !(d.is_finite() && d >= 0.0) {
                    return Err(err(
                        &place(),
                        format!("distance {d} Å is not a finite non-negative number"),
                    ));
                }
                index.push(offset + j as i64);
                gauss.expand_into(d as f64, &mut features);
            }
            graph_index.extend(std::iter::repeat_n(g as i64, n));
            graph_sizes.push(n as f32);
            offset += n as i64;
        }
        let n = offset as usize;
        let b = graphs.len();
        Ok(Self {
            atom_features: float_tensor(atoms, [n, ATOM_FEATURES], device),
            neighbor_index: int_tensor(index, device),
            neighbor_features: float_tensor(features, [n, m, gauss.len()], device),
            graph_index: int_tensor(graph_index, device),
            graph_sizes: float_tensor(graph_sizes, [b, 1], device),
            num_graphs: b,
        })
    }

    /// M, the neighbour slots per atom.
    pub fn max_neighbors(&self) -> usize {
        self.neighbor_features.dims()[1]
    }
}
