//! Analytic forward floating-point operation counts of every encoder, for throughput reports
//! (`multimat bench encoders`) and for sizing runs.
//!
//! # Conventions
//! * A multiply-add counts **2** FLOPs; a matrix product `[r, i] · [i, o]` is `2·r·i·o`, and a
//!   `Linear(i→o)` on `r` rows adds `r·o` for the bias: [`linear`].
//! * Element-wise work is counted per output element with the nominal costs below
//!   ([`SIGMOID`], [`SILU`], [`SOFTPLUS`], [`BATCH_NORM_TRAIN`], …): one FLOP per arithmetic
//!   operation of the textbook formula, a transcendental (`exp`, `ln`, `√`) as one. These terms
//!   are a few percent of the total; the products dominate.
//! * Gathers, scatters of copies, concatenations, reshapes and the host-side input building
//!   (CGCNN's Gaussian distance expansion, graph batching) count nothing; a scatter-**add**
//!   counts one FLOP per added element.
//! * The counts follow the computation as this crate performs it, not a naive transcription of
//!   the paper's formulas. In particular [`PotNetConv`](crate::encoders::potnet::PotNetConv)
//!   applies the node blocks of its two `Linear(3F→F)` layers once per node instead of once per
//!   edge, so its count is the work actually done (and smaller than the concatenated form).
//! * The backward pass of a network made of products costs about twice its forward pass (one
//!   product for the input gradient, one for the weight gradient, per forward product), so a
//!   training step (forward + backward) is reported as [`TRAIN_STEP_FACTOR`] = 3 × forward.
//!   That is an estimate, not a count: element-wise backward work and BatchNorm/softmax
//!   gradients do not follow the 2× rule exactly.

use crate::encoders::cgcnn::CgcnnConfig;
use crate::encoders::charge_density::ResNeXt3dConfig;
use crate::encoders::dos::DosTransformerConfig;
use crate::encoders::potnet::PotNetConfig;
use crate::encoders::text::TextMlpConfig;

/// Backward ≈ 2 × forward, so forward + backward ≈ 3 × forward (see the module docs).
pub const TRAIN_STEP_FACTOR: f64 = 3.0;

/// σ(x) = 1/(1 + e^(−x)): negate, exp, add, divide.
pub const SIGMOID: f64 = 4.0;
/// x·σ(x): a sigmoid and a multiply.
pub const SILU: f64 = SIGMOID + 1.0;
/// ln(1 + e^(βx))/β: scale, exp, add, ln, divide.
pub const SOFTPLUS: f64 = 5.0;
/// max(x, 0).
pub const RELU: f64 = 1.0;
/// Training-mode BatchNorm per element: mean (1 add), variance (subtract, square, add),
/// normalise (subtract, multiply by 1/σ) and affine (multiply, add). The per-channel divisions
/// and square roots are negligible and not counted.
pub const BATCH_NORM_TRAIN: f64 = 8.0;
/// PotNet's Gaussian RBF exp(−((x − μ)/ℓ)²) per bin: subtract, divide, square, negate, exp.
pub const GAUSSIAN_RBF: f64 = 5.0;
/// PotNet's multiquadric RBF √(1 + ((x − μ)/ℓ)²) per bin: subtract, divide, square, add, √.
pub const MULTIQUADRIC_RBF: f64 = 5.0;

/// FLOPs of `Linear(inputs→outputs)` on `rows` rows, bias included: `rows·(2·in·out + out)`.
pub fn linear(rows: usize, inputs: usize, outputs: usize, bias: bool) -> f64 {
    let (r, i, o) = (rows as f64, inputs as f64, outputs as f64);
    r * (2.0 * i * o + if bias { o } else { 0.0 })
}

/// Forward FLOPs + backward estimate: `TRAIN_STEP_FACTOR × forward`.
pub fn train_step(forward: f64) -> f64 {
    TRAIN_STEP_FACTOR * forward
}

/// Size of a batch of crystal graphs, as counted from the real graphs.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default)]
pub struct GraphBatchSize {
    /// B, graphs (crystals) in the batch.
    pub graphs: usize,
    /// N, atoms over all graphs.
    pub atoms: usize,
    /// E, PotNet local edges over all graphs (0 for CGCNN).
    pub local_edges: usize,
    /// P, PotNet infinite edges over all graphs (Σ N_g²; 0 for CGCNN).
    pub infinite_edges: usize,
}

/// Forward FLOPs of [`PotNet`](crate::encoders::potnet::PotNet) on a batch of `size`.
///
/// With F = `fc_features`, K = `local_rbf_bins`, Q = `inf_edge_features`, A = `atom_input`,
/// O = `embedding_dim`, T = E + P edges and L conv layers:
///
/// ```text
/// atom embedding      linear(N, A, F)
/// local edges         2E (1/d, ×(−0.75)) + 5·E·K (Gaussian RBF) + linear(E, K, F) + SiLU·E·F
/// infinite edges      5P (c₁·C + c₂·L + c₃·P) + 5·P·Q (multiquadric RBF) + linear(P, Q, F)
///                     + softplus·P·F + BN·P·F
/// per conv layer      node blocks 2 × 2·N·F·2F ; edge block 2·T·F·2F ; 3·T·2F (two adds, bias)
///                     + SiLU·T·2F ; gate: linear(T, F, F) + BN·T·F + sigmoid·T·F
///                     message: linear(T, F, F) ; gate ⊙ msg T·F ; scatter-add T·F
///                     node update: BN·N·F + N·F (residual) + ReLU·N·F
/// mean pool           N·F (scatter-add) + B·F (divide)
/// head                linear(B, F, O)
/// ```
pub fn potnet_forward(config: &PotNetConfig, size: &GraphBatchSize) -> f64 {
    let f = config.fc_features as f64;
    let (n, e, p, b) = (
        size.atoms as f64,
        size.local_edges as f64,
        size.infinite_edges as f64,
        size.graphs as f64,
    );
    let t = e + p;
    let fc = config.fc_features;
    let atom = linear(size.atoms, config.atom_input, fc, true);
    let local = 2.0 * e
        + GAUSSIAN_RBF * e * config.local_rbf_bins as f64
        + linear(size.local_edges, config.local_rbf_bins, fc, true)
        + SILU * e * f;
    let infinite = 5.0 * p
        + MULTIQUADRIC_RBF * p * config.inf_edge_features as f64
        + linear(size.infinite_edges, config.inf_edge_features, fc, true)
        + (SOFTPLUS + BATCH_NORM_TRAIN) * p * f;
    let edges = size.local_edges + size.infinite_edges;
    let conv = 2.0 * (2.0 * n * f * 2.0 * f)
        + 2.0 * t * f * 2.0 * f
        + 3.0 * t * 2.0 * f
        + SILU * t * 2.0 * f
        + linear(edges, fc, fc, true)
        + (BATCH_NORM_TRAIN + SIGMOID) * t * f
        + linear(edges, fc, fc, true)
        + 2.0 * t * f
        + (BATCH_NORM_TRAIN + 1.0 + RELU) * n * f;
    let pool = n * f + b * f;
    let head = linear(size.graphs, fc, config.embedding_dim, true);
    atom + local + infinite + config.conv_layers as f64 * conv + pool + head
}

/// Forward FLOPs of [`Cgcnn`](crate::encoders::cgcnn::Cgcnn) on B = `size.graphs` crystals of
/// N = `size.atoms` atoms in total with M = `max_neighbors` slots per atom.
///
/// With F = `atom_fea_len`, G = `nbr_fea_len`, H = `h_fea_len`, A = `atom_input`,
/// O = `embedding_dim` and S = N·M slots:
///
/// ```text
/// embedding           linear(N, A, F)
/// per conv layer      linear(S, 2F + G, 2F) + BN·S·2F + sigmoid·S·F + softplus·S·F
///                     + S·F (filter ⊙ core) + S·F (sum over slots)
///                     + BN·N·F + N·F (residual) + softplus·N·F
/// mean pool           N·F + B·F
/// head                softplus·B·F + linear(B, F, H) + softplus·B·H
///                     + (n_h − 1)·(linear(B, H, H) + softplus·B·H) + linear(B, H, O)
/// ```
pub fn cgcnn_forward(config: &CgcnnConfig, size: &GraphBatchSize, max_neighbors: usize) -> f64 {
    let f = config.atom_fea_len as f64;
    let h = config.h_fea_len as f64;
    let (n, b) = (size.atoms as f64, size.graphs as f64);
    let slots_usize = size.atoms * max_neighbors;
    let s = slots_usize as f64;
    let fl = config.atom_fea_len;
    let embedding = linear(size.atoms, config.atom_input, fl, true);
    let conv = linear(slots_usize, 2 * fl + config.nbr_fea_len, 2 * fl, true)
        + BATCH_NORM_TRAIN * s * 2.0 * f
        + (SIGMOID + SOFTPLUS) * s * f
        + 2.0 * s * f
        + (BATCH_NORM_TRAIN + 1.0 + SOFTPLUS) * n * f;
    let pool = n * f + b * f;
    let extra = config.n_h.max(1) - 1;
    let head = SOFTPLUS * b * f
        + linear(size.graphs, fl, config.h_fea_len, true)
        + SOFTPLUS * b * h
        + extra as f64
            * (linear(size.graphs, config.h_fea_len, config.h_fea_len, true) + SOFTPLUS * b * h)
        + linear(size.graphs, config.h_fea_len, config.embedding_dim, true);
    embedding + config.n_conv as f64 * conv + pool + head
}

/// Forward FLOPs of the DOS Transformer on `batch` spectra of `points` energy points; the
/// formula is [`DosTransformerConfig::forward_flops`] (attention grows as `points²`).
pub fn dos_forward(config: &DosTransformerConfig, batch: usize, points: usize) -> f64 {
    config.forward_flops(batch, points)
}

/// Forward FLOPs of the 3-D ResNeXt on `batch` grids of `grid³` points; the formula is
/// [`ResNeXt3dConfig::forward_flops`] (≈ 99 % convolutions).
pub fn resnext_forward(config: &ResNeXt3dConfig, batch: usize, grid: usize) -> f64 {
    config.forward_flops(batch, grid)
}

/// Forward FLOPs of the text MLP on `batch` rows; the formula is
/// [`TextMlpConfig::forward_flops`] (three linears, biases and two ReLUs).
pub fn text_forward(config: &TextMlpConfig, batch: usize) -> f64 {
    config.forward_flops(batch)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn linear_counts_multiply_adds_twice_and_the_bias_once() {
        // [3, 4] · [4, 5]: 60 multiply-adds = 120 FLOPs, + 3·5 bias adds.
        assert_eq!(linear(3, 4, 5, true), 135.0);
        assert_eq!(linear(3, 4, 5, false), 120.0);
        assert_eq!(train_step(10.0), 30.0);
    }

    #[test]
    fn potnet_tiny_config_matches_a_hand_count() {
        // F = 2, K = 3 local bins, Q = 2 infinite bins, A = 4 atom features, O = 1, one layer;
        // one graph of N = 2 atoms, E = 3 local and P = 4 infinite edges (T = 7).
        let config = PotNetConfig::new()
            .with_conv_layers(1)
            .with_fc_features(2)
            .with_local_rbf_bins(3)
            .with_inf_edge_features(2)
            .with_atom_input(4)
            .with_embedding_dim(1);
        let size = GraphBatchSize {
            graphs: 1,
            atoms: 2,
            local_edges: 3,
            infinite_edges: 4,
        };
        // atom embedding: 2·(2·4·2 + 2) = 36
        let atom = 36.0;
        // local: 2·3 + 5·3·3 + 3·(2·3·2 + 2) + 5·3·2 = 6 + 45 + 42 + 30 = 123
        let local = 123.0;
        // infinite: 5·4 + 5·4·2 + 4·(2·2·2 + 2) + (5 + 8)·4·2 = 20 + 40 + 40 + 104 = 204
        let infinite = 204.0;
        // conv: node blocks 2·(2·2·2·4) = 64; edge block 2·7·2·4 = 112; adds 3·7·4 = 84;
        // SiLU 5·7·4 = 140; gate linear 7·(2·2·2 + 2) = 70; BN + sigmoid (8 + 4)·7·2 = 168;
        // message linear 70; product + scatter 2·7·2 = 28; node update (8 + 1 + 1)·2·2 = 40.
        let conv = 64.0 + 112.0 + 84.0 + 140.0 + 70.0 + 168.0 + 70.0 + 28.0 + 40.0;
        // pool: 2·2 + 1·2 = 6; head: 1·(2·2·1 + 1) = 5
        let tail = 6.0 + 5.0;
        assert_eq!(
            potnet_forward(&config, &size),
            atom + local + infinite + conv + tail
        );
    }

    #[test]
    fn potnet_count_is_linear_in_layers_and_edges() {
        let base = PotNetConfig::new();
        let size = GraphBatchSize {
            graphs: 2,
            atoms: 10,
            local_edges: 160,
            infinite_edges: 52,
        };
        let three = potnet_forward(&base, &size);
        let four = potnet_forward(&base.clone().with_conv_layers(4), &size);
        let two = potnet_forward(&base.clone().with_conv_layers(2), &size);
        assert!((four - three - (three - two)).abs() < 1e-6 * three);
        // Doubling every count of a batch (two copies of it) doubles the work.
        let double = GraphBatchSize {
            graphs: 4,
            atoms: 20,
            local_edges: 320,
            infinite_edges: 104,
        };
        assert!((potnet_forward(&base, &double) - 2.0 * three).abs() < 1e-6 * three);
        // At the paper size the edge products dominate: the three layers' edge-block and
        // F→F products alone, 3·T·(2·F·2F + 2·2·F·F) = 3·T·8·F², are most of the total.
        let t = 212.0;
        let products = 3.0 * t * 8.0 * 256.0 * 256.0;
        assert!(
            products / three > 0.8 && products < three,
            "{}",
            products / three
        );
    }

    #[test]
    fn cgcnn_tiny_config_matches_a_hand_count() {
        // F = 2, G = 3, H = 4, A = 5, O = 1, one layer, n_h = 2; N = 3 atoms, M = 2 slots
        // (S = 6), B = 1.
        let config = CgcnnConfig::new()
            .with_atom_input(5)
            .with_atom_fea_len(2)
            .with_n_conv(1)
            .with_h_fea_len(4)
            .with_n_h(2)
            .with_embedding_dim(1)
            .with_nbr_fea_len(3);
        let size = GraphBatchSize {
            graphs: 1,
            atoms: 3,
            ..Default::default()
        };
        // embedding: 3·(2·5·2 + 2) = 66
        let embedding = 66.0;
        // conv: fc_full 6·(2·7·4 + 4) = 360; BN1 8·6·4 = 192; sigmoid + softplus 9·6·2 = 108;
        // product + sum 2·6·2 = 24; BN2 + residual + softplus (8 + 1 + 5)·3·2 = 84.
        let conv = 360.0 + 192.0 + 108.0 + 24.0 + 84.0;
        // pool 3·2 + 1·2 = 8
        let pool = 8.0;
        // head: softplus 5·2 = 10; conv_to_fc 2·2·4 + 4 = 20; softplus 5·4 = 20;
        // one extra layer 2·4·4 + 4 + 20 = 56; fc_out 2·4·1 + 1 = 9.
        let head = 10.0 + 20.0 + 20.0 + 56.0 + 9.0;
        assert_eq!(
            cgcnn_forward(&config, &size, 2),
            embedding + conv + pool + head
        );
    }

    #[test]
    fn cgcnn_paper_size_is_dominated_by_the_slot_products() {
        let config = CgcnnConfig::new();
        let size = GraphBatchSize {
            graphs: 1,
            atoms: 1,
            ..Default::default()
        };
        let total = cgcnn_forward(&config, &size, 12);
        // per atom: 3 layers × 12 slots × 2·169·128 FLOPs of fc_full
        let slots = 3.0 * 12.0 * 2.0 * 169.0 * 128.0;
        assert!(slots / total > 0.85 && slots < total, "{}", slots / total);
    }

    #[test]
    fn modality_counts_forward_to_the_configs() {
        let dos = DosTransformerConfig::new();
        assert_eq!(dos_forward(&dos, 3, 601), dos.forward_flops(3, 601));
        let text = TextMlpConfig::new();
        // 2 FLOPs per weight, plus biases and ReLUs: ≈ 2 × 722,048 per row.
        let per_row = text_forward(&text, 1);
        assert_eq!(text_forward(&text, 7), 7.0 * per_row);
        assert!((per_row / (2.0 * 722_048.0) - 1.0).abs() < 0.01);
        let cd = ResNeXt3dConfig::new();
        assert_eq!(resnext_forward(&cd, 2, 32), 2.0 * cd.forward_flops(1, 32));
    }
}
