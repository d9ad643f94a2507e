//! Tests of the PotNet and CGCNN crystal encoders: parameter counts, shapes, invariance to
//! batching and atom order, the message passing against hand-written loops, gradients, and
//! the RBF expansions against NumPy (fixtures/model/crystal_encoders_rbf.json, written by
//! tools/fixtures/model_crystal_encoders.py).

use burn::module::{Module, ModuleVisitor, Param};
use burn::nn::{BatchNorm, Linear};
use burn::optim::GradientsParams;
use burn::tensor::{Device, Int, Tensor, TensorData};
use multimat_graphs::cgcnn::CgcnnGraphView;
use multimat_graphs::potnet::PotNetGraphView;
use multimat_model::encoders::cgcnn::{CgcnnConfig, CgcnnInput, GaussianDistance};
use multimat_model::encoders::potnet::{
    gaussian_rbf, multiquadric_rbf, PotNet, PotNetConfig, PotNetConv, PotNetInput,
};
use multimat_model::trainable_params;

// ---------------------------------------------------------------------------------------------
// Test graphs
// ---------------------------------------------------------------------------------------------

/// A PotNet graph owning its arrays.
#[derive(Clone, Debug)]
struct PotGraph {
    z: Vec<u8>,
    src: Vec<u32>,
    dst: Vec<u32>,
    dist: Vec<f32>,
    inf: Vec<f32>,
}

impl PotGraph {
    fn as_ref(&self) -> PotNetGraphView<'_> {
        PotNetGraphView {
            atomic_numbers: &self.z,
            local_src: &self.src,
            local_dst: &self.dst,
            local_distance: &self.dist,
            infinite: &self.inf,
        }
    }

    fn n(&self) -> usize {
        self.z.len()
    }

    /// The same crystal with atom i renamed perm[i].
    fn permuted(&self, perm: &[usize]) -> Self {
        let n = self.n();
        let mut z = vec![0; n];
        for i in 0..n {
            z[perm[i]] = self.z[i];
        }
        let mut inf = vec![0.0; n * n * 3];
        for i in 0..n {
            for j in 0..n {
                let (from, to) = (i * n + j, perm[i] * n + perm[j]);
                inf[to * 3..to * 3 + 3].copy_from_slice(&self.inf[from * 3..from * 3 + 3]);
            }
        }
        Self {
            z,
            src: self.src.iter().map(|&s| perm[s as usize] as u32).collect(),
            dst: self.dst.iter().map(|&t| perm[t as usize] as u32).collect(),
            dist: self.dist.clone(),
            inf,
        }
    }
}

/// Rock-salt GeC of spec §6.7: 72 local edges in the stored order and the stored lattice sums.
fn gec() -> PotGraph {
    let (hetero, self_image) = (2.19345f32, 3.10201f32);
    let mut g = PotGraph {
        z: vec![32, 6],
        src: vec![],
        dst: vec![],
        dist: vec![],
        inf: vec![],
    };
    let mut push = |s: u32, t: u32, d: f32| {
        g.src.push(s);
        g.dst.push(t);
        g.dist.push(d);
    };
    for k in 0..12 {
        if k % 2 == 0 {
            push(0, 1, hetero)
        } else {
            push(1, 0, hetero)
        }
    }
    for _ in 0..24 {
        push(0, 0, self_image);
    }
    for k in 0..12 {
        if k % 2 == 0 {
            push(1, 0, hetero)
        } else {
            push(0, 1, hetero)
        }
    }
    for _ in 0..24 {
        push(1, 1, self_image);
    }
    let own = [-1.04512f32, 0.01622, 1.04841];
    let pair = [-0.24841f32, 0.05922, 0.12671];
    g.inf = [own, pair, pair, own].concat();
    g
}

/// Small deterministic generator (64-bit LCG) so the synthetic graphs need no extra crate.
struct Lcg(u64);

impl Lcg {
    fn next_f64(&mut self) -> f64 {
        self.0 = self
            .0
            .wrapping_mul(6364136223846793005)
            .wrapping_add(1442695040888963407);
        (self.0 >> 11) as f64 / (1u64 << 53) as f64
    }
    fn uniform(&mut self, lo: f64, hi: f64) -> f64 {
        lo + (hi - lo) * self.next_f64()
    }
    fn below(&mut self, n: usize) -> usize {
        ((self.next_f64() * n as f64) as usize).min(n - 1)
    }
}

/// A synthetic crystal of `n` atoms with `per_atom` incoming local edges per atom (self-image
/// edges included) and symmetric infinite features in the ranges of real data.
fn synthetic(n: usize, per_atom: usize, seed: u64) -> PotGraph {
    let mut rng = Lcg(seed);
    const ELEMENTS: [u8; 10] = [3, 8, 11, 14, 22, 26, 29, 38, 56, 83];
    let z = (0..n)
        .map(|_| ELEMENTS[rng.below(ELEMENTS.len())])
        .collect();
    let (mut src, mut dst, mut dist) = (vec![], vec![], vec![]);
    for t in 0..n {
        for _ in 0..per_atom {
            src.push(rng.below(n) as u32);
            dst.push(t as u32);
            dist.push(rng.uniform(1.8, 4.2) as f32);
        }
    }
    let mut inf = vec![0.0f32; n * n * 3];
    let diag = [
        rng.uniform(-1.2, -0.6),
        rng.uniform(0.005, 0.03),
        rng.uniform(1.0, 1.1),
    ];
    for i in 0..n {
        for j in i..n {
            let v = if i == j {
                diag
            } else {
                [
                    rng.uniform(-0.6, 0.1),
                    rng.uniform(0.01, 0.09),
                    rng.uniform(0.05, 0.3),
                ]
            };
            for (a, b) in [(i, j), (j, i)] {
                let k = (a * n + b) * 3;
                for c in 0..3 {
                    inf[k + c] = v[c] as f32;
                }
            }
        }
    }
    PotGraph {
        z,
        src,
        dst,
        dist,
        inf,
    }
}

/// A CGCNN graph owning its arrays, 12 slots per atom.
#[derive(Clone, Debug)]
struct CgGraph {
    z: Vec<u8>,
    idx: Vec<u32>,
    dist: Vec<f32>,
}

const SLOTS: usize = 12;

impl CgGraph {
    fn as_ref(&self) -> CgcnnGraphView<'_> {
        CgcnnGraphView {
            atomic_numbers: &self.z,
            neighbor_index: &self.idx,
            neighbor_distance: &self.dist,
        }
    }

    fn permuted(&self, perm: &[usize]) -> Self {
        let n = self.z.len();
        let mut z = vec![0; n];
        let mut idx = vec![0; n * SLOTS];
        let mut dist = vec![0.0; n * SLOTS];
        for i in 0..n {
            z[perm[i]] = self.z[i];
            for k in 0..SLOTS {
                idx[perm[i] * SLOTS + k] = perm[self.idx[i * SLOTS + k] as usize] as u32;
                dist[perm[i] * SLOTS + k] = self.dist[i * SLOTS + k];
            }
        }
        Self { z, idx, dist }
    }
}

/// GeC for CGCNN: 6 hetero neighbours at 2.19345 Å then 6 of the 12 self images at 3.10201 Å.
fn cg_gec() -> CgGraph {
    let mut idx = vec![];
    let mut dist = vec![];
    for i in 0..2u32 {
        for k in 0..SLOTS {
            idx.push(if k < 6 { 1 - i } else { i });
            dist.push(if k < 6 { 2.19345 } else { 3.10201 });
        }
    }
    CgGraph {
        z: vec![32, 6],
        idx,
        dist,
    }
}

fn cg_synthetic(n: usize, seed: u64) -> CgGraph {
    let mut rng = Lcg(seed);
    let z = (0..n).map(|_| [1u8, 8, 13, 26, 79][rng.below(5)]).collect();
    let mut idx = vec![];
    let mut dist = vec![];
    for _ in 0..n {
        let mut d: Vec<f32> = (0..SLOTS).map(|_| rng.uniform(1.5, 7.5) as f32).collect();
        d.sort_by(f32::total_cmp);
        for &x in &d {
            idx.push(rng.below(n) as u32);
            dist.push(x);
        }
    }
    CgGraph { z, idx, dist }
}

fn pot_input(graphs: &[PotGraph], device: &Device) -> PotNetInput {
    let refs: Vec<_> = graphs.iter().map(PotGraph::as_ref).collect();
    PotNetInput::from_graphs(&refs, device).expect("valid test graphs")
}

fn cg_input(graphs: &[CgGraph], device: &Device) -> CgcnnInput {
    let refs: Vec<_> = graphs.iter().map(CgGraph::as_ref).collect();
    CgcnnInput::from_graphs(&refs, device).expect("valid test graphs")
}

// ---------------------------------------------------------------------------------------------
// Helpers
// ---------------------------------------------------------------------------------------------

fn floats<const D: usize>(t: Tensor<D>) -> Vec<f64> {
    t.into_data().iter::<f32>().map(f64::from).collect()
}

fn ints(t: Tensor<1, Int>) -> Vec<i64> {
    t.into_data().iter::<i64>().collect()
}

fn assert_close(actual: &[f64], expected: &[f64], tol: f64, what: &str) {
    assert_eq!(actual.len(), expected.len(), "{what}: lengths differ");
    for (k, (a, e)) in actual.iter().zip(expected).enumerate() {
        assert!(
            (a - e).abs() <= tol * (1.0 + e.abs()),
            "{what}[{k}]: got {a}, expected {e} (tolerance {tol})"
        );
    }
}

fn rows(values: &[f64], width: usize) -> Vec<Vec<f64>> {
    values.chunks(width).map(<[f64]>::to_vec).collect()
}

/// A linear layer read back to f64, weight `[in][out]`.
struct HostLinear {
    w: Vec<Vec<f64>>,
    b: Vec<f64>,
}

impl HostLinear {
    fn read(l: &Linear) -> Self {
        let [din, dout] = l.weight.val().dims();
        let w = rows(&floats(l.weight.val()), dout);
        assert_eq!(w.len(), din);
        let b = l
            .bias
            .as_ref()
            .map(|b| floats(b.val()))
            .unwrap_or(vec![0.0; dout]);
        Self { w, b }
    }

    fn apply(&self, x: &[f64]) -> Vec<f64> {
        let mut y = self.b.clone();
        for (xi, wi) in x.iter().zip(&self.w) {
            for (yo, wio) in y.iter_mut().zip(wi) {
                *yo += xi * wio;
            }
        }
        y
    }
}

/// Batch norm over rows, either with running statistics (eval) or batch statistics with the
/// biased variance (training, as PyTorch normalises).
fn host_batch_norm(bn: &BatchNorm, x: &mut [Vec<f64>], train: bool) {
    let gamma = floats(bn.gamma.val());
    let beta = floats(bn.beta.val());
    let f = gamma.len();
    let (mean, var) = if train {
        let n = x.len() as f64;
        let mean: Vec<f64> = (0..f)
            .map(|c| x.iter().map(|r| r[c]).sum::<f64>() / n)
            .collect();
        let var = (0..f)
            .map(|c| x.iter().map(|r| (r[c] - mean[c]).powi(2)).sum::<f64>() / n)
            .collect();
        (mean, var)
    } else {
        (
            floats(bn.running_mean.value()),
            floats(bn.running_var.value()),
        )
    };
    for r in x.iter_mut() {
        for c in 0..f {
            r[c] = (r[c] - mean[c]) / (var[c] + bn.epsilon).sqrt() * gamma[c] + beta[c];
        }
    }
}

fn sigmoid(x: f64) -> f64 {
    1.0 / (1.0 + (-x).exp())
}
fn silu(x: f64) -> f64 {
    x * sigmoid(x)
}
fn softplus(x: f64) -> f64 {
    if x > 20.0 {
        x
    } else {
        x.exp().ln_1p()
    }
}

/// PotNetConv written as the PyTorch reference states it: per-edge concat(h_i, h_j, e_ij),
/// BN_int over all edges, a plain loop for the scatter-add at the target.
fn host_potnet_conv(
    conv: &PotNetConv,
    h: &[Vec<f64>],
    src: &[usize],
    dst: &[usize],
    edges: &[Vec<f64>],
    train: bool,
) -> Vec<Vec<f64>> {
    let (l1, l2, l3, l4) = (
        HostLinear::read(&conv.gate_in),
        HostLinear::read(&conv.gate_out),
        HostLinear::read(&conv.message_in),
        HostLinear::read(&conv.message_out),
    );
    let mut gates = Vec::new();
    let mut messages = Vec::new();
    for k in 0..src.len() {
        let t = [h[dst[k]].clone(), h[src[k]].clone(), edges[k].clone()].concat();
        let a: Vec<f64> = l1.apply(&t).into_iter().map(silu).collect();
        gates.push(l2.apply(&a));
        let b: Vec<f64> = l3.apply(&t).into_iter().map(silu).collect();
        messages.push(l4.apply(&b));
    }
    host_batch_norm(&conv.bn_interaction, &mut gates, train);
    let f = h[0].len();
    let mut agg = vec![vec![0.0; f]; h.len()];
    for k in 0..src.len() {
        for c in 0..f {
            agg[dst[k]][c] += sigmoid(gates[k][c]) * messages[k][c];
        }
    }
    host_batch_norm(&conv.bn, &mut agg, train);
    h.iter()
        .zip(&agg)
        .map(|(hr, ar)| hr.iter().zip(ar).map(|(x, y)| (x + y).max(0.0)).collect())
        .collect()
}

fn linspace(min: f64, max: f64, k: usize) -> Vec<f64> {
    (0..k)
        .map(|i| min + (max - min) * i as f64 / (k - 1) as f64)
        .collect()
}

/// The whole PotNet forward in eval mode, from the graphs' plain arrays.
fn host_potnet(model: &PotNet, config: &PotNetConfig, graphs: &[PotGraph]) -> Vec<Vec<f64>> {
    let emb = HostLinear::read(&model.atom_embedding);
    let edge_lin = HostLinear::read(&model.edge_embedding);
    let inf_lin = HostLinear::read(&model.infinite_linear);
    let out_lin = HostLinear::read(&model.fc_out);
    let local_mu = linspace(config.rbf_min, config.rbf_max, config.local_rbf_bins);
    let inf_mu = linspace(config.rbf_min, config.rbf_max, config.inf_edge_features);
    let local_l = (config.rbf_max - config.rbf_min) / (config.local_rbf_bins - 1) as f64;
    let inf_l = (config.rbf_max - config.rbf_min) / (config.inf_edge_features - 1) as f64;

    let (mut h, mut src, mut dst, mut local, mut inf) = (vec![], vec![], vec![], vec![], vec![]);
    let (mut isrc, mut idst) = (vec![], vec![]);
    let mut offset = 0;
    for g in graphs {
        let n = g.n();
        for &z in &g.z {
            let x: Vec<f64> = multimat_crystal::cgcnn_features(z)
                .expect("known element")
                .iter()
                .map(|&v| f64::from(v))
                .collect();
            h.push(emb.apply(&x));
        }
        for k in 0..g.src.len() {
            src.push(offset + g.src[k] as usize);
            dst.push(offset + g.dst[k] as usize);
            let u = -0.75 / f64::from(g.dist[k]);
            let rbf: Vec<f64> = local_mu
                .iter()
                .map(|m| (-((u - m) / local_l).powi(2)).exp())
                .collect();
            local.push(
                edge_lin
                    .apply(&rbf)
                    .into_iter()
                    .map(silu)
                    .collect::<Vec<_>>(),
            );
        }
        for k in 0..n * n {
            isrc.push(offset + k / n);
            idst.push(offset + k % n);
            let a = &g.inf[k * 3..k * 3 + 3];
            let s: f64 = (0..3).map(|c| config.potentials[c] * f64::from(a[c])).sum();
            let rbf: Vec<f64> = inf_mu
                .iter()
                .map(|m| (1.0 + ((s - m) / inf_l).powi(2)).sqrt())
                .collect();
            inf.push(
                inf_lin
                    .apply(&rbf)
                    .into_iter()
                    .map(softplus)
                    .collect::<Vec<_>>(),
            );
        }
        offset += n;
    }
    host_batch_norm(&model.infinite_bn, &mut inf, false);
    src.extend(isrc);
    dst.extend(idst);
    local.extend(inf);
    for conv in &model.conv_layers {
        h = host_potnet_conv(conv, &h, &src, &dst, &local, false);
    }
    let mut out = vec![];
    let mut start = 0;
    for g in graphs {
        let f = h[0].len();
        let mean: Vec<f64> = (0..f)
            .map(|c| h[start..start + g.n()].iter().map(|r| r[c]).sum::<f64>() / g.n() as f64)
            .collect();
        out.push(out_lin.apply(&mean));
        start += g.n();
    }
    out
}

/// Checks that every trainable parameter of `module` has a non-zero gradient; returns how
/// many scalars were checked.
fn assert_all_gradients<M: Module>(module: &M, grads: &GradientsParams) -> usize {
    struct Check<'a> {
        grads: &'a GradientsParams,
        path: Vec<String>,
        missing: Vec<String>,
        zero: Vec<String>,
        scalars: usize,
    }
    impl ModuleVisitor for Check<'_> {
        fn enter_module(&mut self, name: &str, _: &str) {
            self.path.push(name.to_owned());
        }
        fn exit_module(&mut self, _: &str, _: &str) {
            self.path.pop();
        }
        fn visit_float<const D: usize>(&mut self, param: &Param<Tensor<D>>) {
            if matches!(
                self.path.last().map(String::as_str),
                Some("running_mean" | "running_var")
            ) {
                return;
            }
            let name = self.path.join(".");
            match self.grads.get::<D>(param.id) {
                None => self.missing.push(name),
                Some(g) => {
                    self.scalars += g.shape().num_elements();
                    if floats(g.abs().sum())[0] == 0.0 {
                        self.zero.push(name);
                    }
                }
            }
        }
    }
    let mut check = Check {
        grads,
        path: vec![],
        missing: vec![],
        zero: vec![],
        scalars: 0,
    };
    module.visit(&mut check);
    assert!(
        check.missing.is_empty(),
        "no gradient for {:?}",
        check.missing
    );
    assert!(
        check.zero.is_empty(),
        "all-zero gradient for {:?}",
        check.zero
    );
    check.scalars
}

fn fixture() -> serde_json::Value {
    let path = concat!(
        env!("CARGO_MANIFEST_DIR"),
        "/../../fixtures/model/crystal_encoders_rbf.json"
    );
    let text = std::fs::read_to_string(path).expect("fixture present");
    serde_json::from_str(&text).expect("fixture is JSON")
}

fn json_floats(v: &serde_json::Value) -> Vec<f64> {
    let arr = v.as_array().expect("array");
    arr.iter()
        .flat_map(|x| match x.as_array() {
            Some(inner) => inner
                .iter()
                .map(|y| y.as_f64().expect("number"))
                .collect::<Vec<_>>(),
            None => vec![x.as_f64().expect("number")],
        })
        .collect()
}

// ---------------------------------------------------------------------------------------------
// Parameter counts
// ---------------------------------------------------------------------------------------------

#[test]
fn potnet_paper_size_has_1_718_656_parameters() {
    let device = Device::flex();
    let model = PotNetConfig::new().init(&device);
    assert_eq!(trainable_params(&model), 1_718_656);
    // burn also counts the running mean and variance of the 7 batch norms (1 + 2 per layer).
    assert_eq!(model.num_params(), 1_718_656 + 7 * 2 * 256);
}

#[test]
fn cgcnn_default_size_has_97_216_parameters() {
    let device = Device::flex();
    let model = CgcnnConfig::new().init(&device);
    // See the hand count in the module doc of encoders/cgcnn.rs.
    assert_eq!(trainable_params(&model), 97_216);
    assert_eq!(model.num_params(), 97_216 + 3 * 2 * (128 + 64));
}

// ---------------------------------------------------------------------------------------------
// Input building
// ---------------------------------------------------------------------------------------------

#[test]
fn potnet_input_offsets_both_edge_lists_like_pyg() {
    let device = Device::flex();
    let a = synthetic(3, 2, 1);
    let b = gec();
    let input = pot_input(&[a.clone(), b.clone()], &device);
    assert_eq!(input.num_graphs, 2);
    assert_eq!(input.num_atoms(), 5);
    assert_eq!(input.num_local_edges(), 6 + 72);
    assert_eq!(input.num_infinite_edges(), 9 + 4);
    let src = ints(input.local_src.clone());
    let dst = ints(input.local_dst.clone());
    assert_eq!(
        &src[..6],
        &a.src.iter().map(|&s| s as i64).collect::<Vec<_>>()[..]
    );
    assert_eq!(
        &src[6..],
        &b.src.iter().map(|&s| s as i64 + 3).collect::<Vec<_>>()[..]
    );
    assert_eq!(
        &dst[6..],
        &b.dst.iter().map(|&s| s as i64 + 3).collect::<Vec<_>>()[..]
    );
    // Infinite edge k of a graph is (k div N → k mod N), then offset.
    assert_eq!(
        ints(input.infinite_src.clone()),
        vec![0, 0, 0, 1, 1, 1, 2, 2, 2, 3, 3, 4, 4]
    );
    assert_eq!(
        ints(input.infinite_dst.clone()),
        vec![0, 1, 2, 0, 1, 2, 0, 1, 2, 3, 4, 3, 4]
    );
    assert_eq!(ints(input.graph_index.clone()), vec![0, 0, 0, 1, 1]);
    assert_eq!(floats(input.graph_sizes.clone()), vec![3.0, 2.0]);
    let attr = floats(input.infinite_attr.clone());
    assert_close(
        &attr[27..30],
        &[-1.04512, 0.01622, 1.04841],
        1e-6,
        "GeC (0,0) sums",
    );
    let x = floats(input.atom_features.clone());
    let ge = multimat_crystal::cgcnn_features(32).expect("Ge");
    assert_close(&x[3 * 92..4 * 92], &ge.map(f64::from), 0.0, "Ge features");
}

#[test]
fn potnet_input_rejects_bad_graphs_with_a_named_place() {
    let device = Device::flex();
    let good = gec();
    let check = |g: PotGraph, place: &str| {
        let err = PotNetInput::from_graphs(&[good.as_ref(), g.as_ref()], &device)
            .expect_err("bad graph must be refused");
        assert_eq!(err.graph, Some(1), "{err}");
        assert!(err.place.contains(place), "{err}");
        assert!(err.to_string().contains("PotNet input, graph 1"), "{err}");
    };
    let mut g = gec();
    g.dst[5] = 2;
    check(g, "local edge 5");
    let mut g = gec();
    g.dist[7] = 0.0;
    check(g, "local edge 7");
    let mut g = gec();
    g.dist.pop();
    check(g, "local edges");
    let mut g = gec();
    g.inf.pop();
    check(g, "infinite");
    let mut g = gec();
    g.inf[4] = f32::NAN;
    check(g, "infinite pair 1, column 1");
    let mut g = gec();
    g.z[1] = 0;
    check(g, "site 1");
    let mut g = gec();
    g.z.clear();
    check(g, "atomic_numbers");
    let err = PotNetInput::from_graphs(&[], &device).expect_err("empty batch");
    assert_eq!(err.graph, None);
}

#[test]
fn cgcnn_input_rejects_bad_graphs_with_a_named_place() {
    let device = Device::flex();
    let good = cg_gec();
    let check = |g: CgGraph, place: &str| {
        let err = CgcnnInput::from_graphs(&[good.as_ref(), g.as_ref()], &device)
            .expect_err("bad graph must be refused");
        assert_eq!(err.graph, Some(1), "{err}");
        assert!(err.place.contains(place), "{err}");
    };
    let mut g = cg_gec();
    g.idx[13] = 5;
    check(g, "site 1, neighbour slot 1");
    let mut g = cg_gec();
    g.dist[3] = f32::INFINITY;
    check(g, "site 0, neighbour slot 3");
    let mut g = cg_gec();
    g.dist.truncate(12);
    check(g, "neighbor_distance");
    let mut g = cg_gec();
    g.z[0] = 101;
    check(g, "site 0");
    assert!(CgcnnInput::from_graphs(&[], &device).is_err());
}

#[test]
fn cgcnn_input_offsets_neighbours_and_expands_distances() {
    let device = Device::flex();
    let input = cg_input(&[cg_synthetic(3, 5), cg_gec()], &device);
    assert_eq!(input.max_neighbors(), SLOTS);
    assert_eq!(input.neighbor_features.dims(), [5, SLOTS, 41]);
    let idx = ints(input.neighbor_index.clone());
    assert_eq!(&idx[36..42], &[4; 6]);
    assert_eq!(&idx[42..48], &[3; 6]);
    assert_eq!(ints(input.graph_index.clone()), vec![0, 0, 0, 1, 1]);
}

// ---------------------------------------------------------------------------------------------
// Numerics against NumPy and hand-written loops
// ---------------------------------------------------------------------------------------------

#[test]
fn rbf_expansions_match_numpy() {
    let device = Device::flex();
    let fx = fixture();
    for (key, gaussian) in [("local_gaussian", true), ("infinite_multiquadric", false)] {
        let case = &fx[key];
        let x = json_floats(&case["input"]);
        let (min, max) = (
            case["min"].as_f64().expect("min"),
            case["max"].as_f64().expect("max"),
        );
        let bins = case["bins"].as_u64().expect("bins") as usize;
        let t = Tensor::<1>::from_data(
            TensorData::new(x.iter().map(|&v| v as f32).collect::<Vec<_>>(), [x.len()]),
            &device,
        );
        let out = if gaussian {
            gaussian_rbf(t, min, max, bins)
        } else {
            multiquadric_rbf(t, min, max, bins)
        };
        assert_eq!(out.dims(), [x.len(), bins]);
        assert_close(&floats(out), &json_floats(&case["expected"]), 2e-5, key);
    }
    // −0.75/d puts the local inputs in [−0.77, −0.13]: only a band of ≈20 of the 256 bins is
    // active, as the spec notes.
    let expected = json_floats(&fx["local_gaussian"]["expected"]);
    let active = expected[..256].iter().filter(|&&v| v > 1e-3).count();
    assert!(
        (1..=12).contains(&active),
        "{active} active bins for one distance"
    );
}

#[test]
fn cgcnn_gaussian_distance_matches_numpy() {
    let fx = &fixture()["cgcnn_gaussian"];
    let gauss = GaussianDistance::default();
    assert_eq!(gauss.len(), fx["centres"].as_u64().expect("count") as usize);
    let mut out = vec![];
    for d in json_floats(&fx["distance"]) {
        gauss.expand_into(d, &mut out);
    }
    let out: Vec<f64> = out.into_iter().map(f64::from).collect();
    assert_close(&out, &json_floats(&fx["expected"]), 1e-6, "CGCNN Gaussian");
}

/// A tiny graph with repeated edges, self loops and a node with no incoming edge.
fn tiny_conv_case(device: &Device, f: usize) -> (Tensor<2>, Vec<usize>, Vec<usize>, Tensor<2>) {
    let src = vec![0, 1, 2, 2, 0, 1, 1];
    let dst = vec![1, 1, 0, 0, 0, 2, 1];
    let mut rng = Lcg(42);
    let h: Vec<f32> = (0..4 * f).map(|_| rng.uniform(-1.0, 1.0) as f32).collect();
    let e: Vec<f32> = (0..src.len() * f)
        .map(|_| rng.uniform(-1.0, 1.0) as f32)
        .collect();
    (
        Tensor::from_data(TensorData::new(h, [4, f]), device),
        src,
        dst,
        Tensor::from_data(TensorData::new(e, [7, f]), device),
    )
}

fn index_tensor(v: &[usize], device: &Device) -> Tensor<1, Int> {
    Tensor::from_data(
        TensorData::new(v.iter().map(|&x| x as i64).collect::<Vec<_>>(), [v.len()]),
        device,
    )
}

#[test]
fn potnet_conv_scatter_add_equals_hand_loop() {
    let f = 6;
    for train in [false, true] {
        let device = if train {
            Device::flex().autodiff()
        } else {
            Device::flex()
        };
        let conv = PotNetConv::new(f, &device);
        let (h, src, dst, e) = tiny_conv_case(&device, f);
        let expected = host_potnet_conv(
            &conv,
            &rows(&floats(h.clone()), f),
            &src,
            &dst,
            &rows(&floats(e.clone()), f),
            train,
        );
        let out = conv.forward(
            h,
            index_tensor(&src, &device),
            index_tensor(&dst, &device),
            e,
        );
        assert_eq!(out.dims(), [4, f]);
        let what = if train {
            "conv (batch statistics)"
        } else {
            "conv (running statistics)"
        };
        assert_close(&floats(out), &expected.concat(), 1e-4, what);
    }
}

#[test]
fn potnet_forward_matches_hand_loop() {
    let device = Device::flex();
    let config = PotNetConfig::small();
    let model = config.init(&device);
    let graphs = [gec(), synthetic(3, 4, 7)];
    let out = model.forward(&pot_input(&graphs, &device));
    assert_eq!(out.dims(), [2, config.embedding_dim]);
    let expected = host_potnet(&model, &config, &graphs);
    assert_close(&floats(out), &expected.concat(), 1e-4, "PotNet forward");
}

#[test]
fn cgcnn_forward_matches_hand_loop() {
    let device = Device::flex();
    let config = CgcnnConfig::small();
    let model = config.init(&device);
    let graphs = [cg_gec(), cg_synthetic(4, 3)];
    let out = floats(model.forward(&cg_input(&graphs, &device)));

    let gauss = GaussianDistance::default();
    let emb = HostLinear::read(&model.embedding);
    let mut h = vec![];
    let (mut idx, mut nbr) = (vec![], vec![]);
    let mut offset = 0;
    for g in &graphs {
        for &z in &g.z {
            let x: Vec<f64> = multimat_crystal::cgcnn_features(z)
                .expect("Z")
                .iter()
                .map(|&v| v.into())
                .collect();
            h.push(emb.apply(&x));
        }
        for (&j, &d) in g.idx.iter().zip(&g.dist) {
            idx.push(offset + j as usize);
            let mut u = vec![];
            gauss.expand_into(d.into(), &mut u);
            nbr.push(u.into_iter().map(f64::from).collect::<Vec<_>>());
        }
        offset += g.z.len();
    }
    let f = config.atom_fea_len;
    for conv in &model.convs {
        let fc = HostLinear::read(&conv.fc_full);
        let mut z: Vec<Vec<f64>> = (0..idx.len())
            .map(|s| fc.apply(&[h[s / SLOTS].clone(), h[idx[s]].clone(), nbr[s].clone()].concat()))
            .collect();
        host_batch_norm(&conv.bn1, &mut z, false);
        let mut summed = vec![vec![0.0; f]; h.len()];
        for (s, zr) in z.iter().enumerate() {
            for c in 0..f {
                summed[s / SLOTS][c] += sigmoid(zr[c]) * softplus(zr[f + c]);
            }
        }
        host_batch_norm(&conv.bn2, &mut summed, false);
        h = h
            .iter()
            .zip(&summed)
            .map(|(a, b)| a.iter().zip(b).map(|(x, y)| softplus(x + y)).collect())
            .collect();
    }
    let to_fc = HostLinear::read(&model.conv_to_fc);
    let last = HostLinear::read(&model.fc_out);
    let mut expected = vec![];
    let mut start = 0;
    for g in &graphs {
        let n = g.z.len();
        let mean: Vec<f64> = (0..f)
            .map(|c| h[start..start + n].iter().map(|r| r[c]).sum::<f64>() / n as f64)
            .collect();
        let hidden: Vec<f64> = to_fc
            .apply(&mean.into_iter().map(softplus).collect::<Vec<_>>())
            .into_iter()
            .map(softplus)
            .collect();
        expected.extend(last.apply(&hidden));
        start += n;
    }
    assert_close(&out, &expected, 1e-4, "CGCNN forward");
}

// ---------------------------------------------------------------------------------------------
// Shapes and invariances
// ---------------------------------------------------------------------------------------------

#[test]
fn potnet_embeds_a_mixed_batch_in_both_modes() {
    let graphs = [gec(), synthetic(5, 6, 11), synthetic(3, 3, 12)];
    for device in [Device::flex(), Device::flex().autodiff()] {
        let model = PotNetConfig::small().init(&device);
        let out = model.forward(&pot_input(&graphs, &device));
        assert_eq!(out.dims(), [3, 128]);
        assert!(floats(out).iter().all(|v| v.is_finite()));
    }
}

#[test]
fn cgcnn_embeds_a_mixed_batch_in_both_modes() {
    let graphs = [cg_gec(), cg_synthetic(5, 1), cg_synthetic(3, 2)];
    for device in [Device::flex(), Device::flex().autodiff()] {
        let model = CgcnnConfig::small().init(&device);
        let out = model.forward(&cg_input(&graphs, &device));
        assert_eq!(out.dims(), [3, 128]);
        assert!(floats(out).iter().all(|v| v.is_finite()));
    }
}

#[test]
fn potnet_eval_embedding_ignores_batch_mates_and_atom_order() {
    let device = Device::flex();
    let model = PotNetConfig::small().init(&device);
    let graphs = [synthetic(4, 5, 21), gec(), synthetic(6, 4, 22)];
    let batched = rows(&floats(model.forward(&pot_input(&graphs, &device))), 128);
    for (g, graph) in graphs.iter().enumerate() {
        let alone = floats(model.forward(&pot_input(std::slice::from_ref(graph), &device)));
        assert_close(&alone, &batched[g], 1e-5, "alone vs batched");
    }
    let perm = [3, 0, 5, 1, 4, 2];
    let shuffled = floats(model.forward(&pot_input(&[graphs[2].permuted(&perm)], &device)));
    assert_close(&shuffled, &batched[2], 1e-5, "permuted atoms");
    // Training mode after `valid()` is eval mode too.
    let ad = Device::flex().autodiff();
    let trained = PotNetConfig::small().init(&ad);
    let valid = trained.valid();
    let inner = Device::flex();
    let a = floats(valid.forward(&pot_input(&graphs[..1], &inner)));
    let b = rows(&floats(valid.forward(&pot_input(&graphs, &inner))), 128);
    assert_close(&a, &b[0], 1e-5, "valid() model");
}

#[test]
fn cgcnn_eval_embedding_ignores_batch_mates_and_atom_order() {
    let device = Device::flex();
    let model = CgcnnConfig::small().init(&device);
    let graphs = [cg_synthetic(4, 31), cg_gec(), cg_synthetic(5, 32)];
    let batched = rows(&floats(model.forward(&cg_input(&graphs, &device))), 128);
    for (g, graph) in graphs.iter().enumerate() {
        let alone = floats(model.forward(&cg_input(std::slice::from_ref(graph), &device)));
        assert_close(&alone, &batched[g], 1e-5, "alone vs batched");
    }
    let shuffled =
        floats(model.forward(&cg_input(&[graphs[2].permuted(&[2, 4, 0, 1, 3])], &device)));
    assert_close(&shuffled, &batched[2], 1e-5, "permuted atoms");
}

// ---------------------------------------------------------------------------------------------
// Gradients
// ---------------------------------------------------------------------------------------------

fn weighted_sum(out: Tensor<2>, seed: u64) -> Tensor<1> {
    let [b, d] = out.dims();
    let mut rng = Lcg(seed);
    let w: Vec<f32> = (0..b * d).map(|_| rng.uniform(-1.0, 1.0) as f32).collect();
    let w = Tensor::<2>::from_data(TensorData::new(w, [b, d]), &out.device());
    out.mul(w).sum()
}

#[test]
fn potnet_gradients_reach_every_parameter() {
    let device = Device::flex().autodiff();
    let model = PotNetConfig::small().init(&device);
    let graphs = [gec(), synthetic(4, 5, 41), synthetic(3, 4, 42)];
    let loss = weighted_sum(model.forward(&pot_input(&graphs, &device)), 1);
    let grads = GradientsParams::from_grads(loss.backward(), &model);
    assert_eq!(
        assert_all_gradients(&model, &grads),
        trainable_params(&model)
    );
}

#[test]
fn cgcnn_gradients_reach_every_parameter() {
    let device = Device::flex().autodiff();
    let model = CgcnnConfig::small().with_n_h(2).init(&device);
    let graphs = [cg_gec(), cg_synthetic(4, 51), cg_synthetic(3, 52)];
    let loss = weighted_sum(model.forward(&cg_input(&graphs, &device)), 2);
    let grads = GradientsParams::from_grads(loss.backward(), &model);
    assert_eq!(
        assert_all_gradients(&model, &grads),
        trainable_params(&model)
    );
}

// ---------------------------------------------------------------------------------------------
// Timing (run with: cargo test --release -p multimat-model --test crystal_encoders -- --ignored
// --nocapture potnet_paper_size_timing)
// ---------------------------------------------------------------------------------------------

#[test]
#[ignore = "timing; run in release mode"]
fn potnet_paper_size_timing() {
    let device = Device::flex().autodiff();
    let model: PotNet = PotNetConfig::new().init(&device);
    // 16 crystals of 10–20 atoms with ≈32 incoming local edges per atom, as in real data.
    let graphs: Vec<PotGraph> = (0..16)
        .map(|g| synthetic(10 + (g * 7) % 11, 32, 100 + g as u64))
        .collect();
    let input = pot_input(&graphs, &device);
    let atoms = input.num_atoms();
    let (e, p) = (input.num_local_edges(), input.num_infinite_edges());
    let mut times = vec![];
    for step in 0..6 {
        let start = std::time::Instant::now();
        let loss = weighted_sum(model.forward(&input), step);
        let grads = GradientsParams::from_grads(loss.backward(), &model);
        // Reading one gradient back forces the lazy backend to finish the step.
        let first = model.fc_out.weight.id;
        let g = grads.get::<2>(first).expect("fc_out gradient");
        let _ = floats(g.sum());
        times.push(start.elapsed().as_secs_f64() * 1e3);
    }
    let warm = &times[1..];
    let mean = warm.iter().sum::<f64>() / warm.len() as f64;
    let min = warm.iter().cloned().fold(f64::INFINITY, f64::min);
    println!(
        "PotNet paper size, batch 16 ({atoms} atoms, {e} local + {p} infinite edges): \
         forward+backward mean {mean:.1} ms, min {min:.1} ms over {} warm steps (first {:.1} ms)",
        warm.len(),
        times[0]
    );
}
