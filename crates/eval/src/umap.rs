//! UMAP (McInnes, Healy & Melville 2018) for 2-D maps of embeddings, following umap-learn's
//! algorithm step by step, and the trustworthiness of a layout (scikit-learn's definition).
//!
//! Hand-written rather than a dependency: of the Rust crates checked (umap-rs, fast-umap,
//! rag-umap, annembed), umap-rs panics on bad input, needs ndarray plus an external kNN and
//! initialisation, and its Hogwild SGD is not reproducible; fast-umap is a parametric
//! (neural) variant on another burn version; rag-umap is a 0.0 release. The steps here:
//!
//! 1. exact kNN (self included, as umap-learn) with the blocked search of [`crate::search`];
//!    cosine distance 1 − cos;
//! 2. smooth-kNN: ρᵢ = distance to the nearest non-identical neighbour, σᵢ by bisection so
//!    that Σⱼ exp(−max(0, dᵢⱼ − ρᵢ)/σᵢ) = log₂ k;
//! 3. fuzzy union P = A + Aᵀ − A∘Aᵀ;
//! 4. a, b of 1/(1 + a d^{2b}) fitted by least squares to the min_dist/spread curve;
//! 5. PCA initialisation scaled to [0, 10] with tiny noise;
//! 6. SGD with negative sampling (5 per positive), linearly decaying learning rate,
//!    200 epochs above 10 000 points and 500 below — single-threaded and seeded, so a layout
//!    is reproducible bit for bit.

use multimat_dataset::SplitMix64;
use rayon::prelude::*;
use serde::Serialize;

use crate::embeddings::normalize_rows;
use crate::error::{Error, ErrorKind, Result};
use crate::search;

/// UMAP settings; the defaults are the paper's (spec §5.3).
#[derive(Debug, Clone, PartialEq, Serialize)]
pub struct UmapConfig {
    /// Neighbours per point, the point itself included (15).
    pub n_neighbors: usize,
    /// Minimum distance between embedded points (0.1).
    pub min_dist: f64,
    /// Scale of embedded distances (1.0).
    pub spread: f64,
    /// SGD epochs; `None`: 500 for ≤ 10 000 points, else 200 (umap-learn's rule).
    pub n_epochs: Option<usize>,
    /// Negative samples per positive edge (5).
    pub negative_sample_rate: usize,
    /// Initial learning rate (1.0).
    pub learning_rate: f64,
    /// Seed of the initial noise and the negative sampling.
    pub seed: u64,
    /// Distance in the input space.
    pub metric: Metric,
}

impl Default for UmapConfig {
    fn default() -> Self {
        Self {
            n_neighbors: 15,
            min_dist: 0.1,
            spread: 1.0,
            n_epochs: None,
            negative_sample_rate: 5,
            learning_rate: 1.0,
            seed: 42,
            metric: Metric::Cosine,
        }
    }
}

/// Input-space distance.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize)]
pub enum Metric {
    /// 1 − cosine similarity.
    Cosine,
    /// Euclidean distance.
    Euclidean,
}

/// The exact `k` nearest neighbours of every row (itself first when it is unique), with
/// distances in `metric`.
pub fn knn(data: &[f32], dim: usize, k: usize, metric: Metric) -> Result<(Vec<u32>, Vec<f32>)> {
    let n = data.len() / dim.max(1);
    match metric {
        Metric::Cosine => {
            let mut unit = data.to_vec();
            normalize_rows(&mut unit, dim);
            let top = search::top_k(&unit, &unit, dim, k)?;
            let d = top.scores.iter().map(|s| (1.0 - s).max(0.0)).collect();
            Ok((top.indices, d))
        }
        Metric::Euclidean => {
            // Ranking by 2x·y − |y|² equals ranking by −|x − y|²: append −|y|²/2 as an extra
            // column to the gallery and 1 to the queries, then one inner-product search.
            let norms: Vec<f32> = data
                .chunks_exact(dim)
                .map(|r| r.iter().map(|v| v * v).sum())
                .collect();
            let mut q = Vec::with_capacity(n * (dim + 1));
            let mut g = Vec::with_capacity(n * (dim + 1));
            for (r, &nn) in data.chunks_exact(dim).zip(&norms) {
                q.extend_from_slice(r);
                q.push(1.0);
                g.extend_from_slice(r);
                g.push(-0.5 * nn);
            }
            let top = search::top_k(&q, &g, dim + 1, k)?;
            let kk = top.k;
            let mut d = Vec::with_capacity(top.indices.len());
            for i in 0..n {
                for &j in top.indices_of(i) {
                    let (a, b) = (
                        &data[i * dim..(i + 1) * dim],
                        &data[j as usize * dim..(j as usize + 1) * dim],
                    );
                    d.push(
                        a.iter()
                            .zip(b)
                            .map(|(x, y)| (x - y) * (x - y))
                            .sum::<f32>()
                            .sqrt(),
                    );
                }
            }
            debug_assert_eq!(d.len(), n * kk);
            Ok((top.indices, d))
        }
    }
}

/// σᵢ and ρᵢ of umap-learn's `smooth_knn_dist` (local_connectivity 1, bandwidth 1) for
/// `k`-wide rows of neighbour distances (self first).
pub fn smooth_knn_dist(dists: &[f32], k: usize) -> (Vec<f64>, Vec<f64>) {
    const TOL: f64 = 1e-5;
    const MIN_K_DIST_SCALE: f64 = 1e-3;
    let n = dists.len() / k;
    let target = (k as f64).log2();
    let mean_all = dists.iter().map(|&d| d as f64).sum::<f64>() / dists.len().max(1) as f64;
    let mut sigmas = vec![0.0; n];
    let mut rhos = vec![0.0; n];
    for i in 0..n {
        let row: Vec<f64> = dists[i * k..(i + 1) * k]
            .iter()
            .map(|&d| d as f64)
            .collect();
        let rho = row.iter().copied().find(|&d| d > 0.0).unwrap_or(0.0);
        let (mut lo, mut hi, mut mid) = (0.0f64, f64::INFINITY, 1.0f64);
        for _ in 0..64 {
            let mut psum = 0.0;
            for &d in &row[1..] {
                let d = d - rho;
                psum += if d > 0.0 { (-d / mid).exp() } else { 1.0 };
            }
            if (psum - target).abs() < TOL {
                break;
            }
            if psum > target {
                hi = mid;
                mid = (lo + hi) / 2.0;
            } else {
                lo = mid;
                if hi == f64::INFINITY {
                    mid *= 2.0;
                } else {
                    mid = (lo + hi) / 2.0;
                }
            }
        }
        let mean_row = row.iter().sum::<f64>() / k as f64;
        if rho > 0.0 {
            mid = mid.max(MIN_K_DIST_SCALE * mean_row);
        } else {
            mid = mid.max(MIN_K_DIST_SCALE * mean_all);
        }
        sigmas[i] = mid;
        rhos[i] = rho;
    }
    (sigmas, rhos)
}

/// The symmetric fuzzy graph as (i, j, w) edges with i ≠ j, both directions present, sorted.
pub fn fuzzy_graph(indices: &[u32], dists: &[f32], k: usize) -> Vec<(u32, u32, f64)> {
    let n = indices.len() / k;
    let (sigmas, rhos) = smooth_knn_dist(dists, k);
    let mut directed: Vec<(u32, u32, f64)> = Vec::with_capacity(n * k);
    for i in 0..n {
        for c in 0..k {
            let j = indices[i * k + c];
            if j as usize == i {
                continue;
            }
            let d = dists[i * k + c] as f64;
            let w = if d - rhos[i] <= 0.0 || sigmas[i] == 0.0 {
                1.0
            } else {
                (-(d - rhos[i]) / sigmas[i]).exp()
            };
            directed.push((i as u32, j, w));
        }
    }
    // P = A + Aᵀ − A∘Aᵀ over the union of both directions.
    let mut both: Vec<(u32, u32, f64, bool)> = Vec::with_capacity(2 * directed.len());
    for &(i, j, w) in &directed {
        both.push((i, j, w, true));
        both.push((j, i, w, false));
    }
    both.sort_by_key(|a| (a.0, a.1));
    let mut out = Vec::with_capacity(both.len());
    let mut s = 0;
    while s < both.len() {
        let mut e = s;
        let (mut a, mut at) = (0.0, 0.0);
        while e < both.len() && both[e].0 == both[s].0 && both[e].1 == both[s].1 {
            if both[e].3 {
                a += both[e].2;
            } else {
                at += both[e].2;
            }
            e += 1;
        }
        let w = a + at - a * at;
        if w > 0.0 {
            out.push((both[s].0, both[s].1, w));
        }
        s = e;
    }
    out
}

/// a, b of the low-dimensional similarity 1/(1 + a d^{2b}), fitted by least squares
/// (Levenberg–Marquardt, as scipy's curve_fit) to 1 for d < min_dist and
/// exp(−(d − min_dist)/spread) beyond, on 300 points of [0, 3·spread].
pub fn find_ab_params(spread: f64, min_dist: f64) -> (f64, f64) {
    let xs = linspace(0.0, spread * 3.0, 300);
    let ys: Vec<f64> = xs
        .iter()
        .map(|&x| {
            if x < min_dist {
                1.0
            } else {
                (-(x - min_dist) / spread).exp()
            }
        })
        .collect();
    let model = |a: f64, b: f64, x: f64| 1.0 / (1.0 + a * x.powf(2.0 * b));
    let cost = |a: f64, b: f64| -> f64 {
        xs.iter()
            .zip(&ys)
            .map(|(&x, &y)| (model(a, b, x) - y).powi(2))
            .sum()
    };
    let (mut a, mut b) = (1.0f64, 1.0f64);
    let mut lambda = 1e-3;
    let mut c = cost(a, b);
    for _ in 0..500 {
        // Gauss–Newton normal equations of the 2-parameter problem.
        let (mut jtj, mut jtr) = ([[0.0f64; 2]; 2], [0.0f64; 2]);
        for (&x, &y) in xs.iter().zip(&ys) {
            let f = model(a, b, x);
            let r = f - y;
            let (da, db) = if x > 0.0 {
                let p = x.powf(2.0 * b);
                (-f * f * p, -f * f * a * p * 2.0 * x.ln())
            } else {
                (0.0, 0.0)
            };
            jtj[0][0] += da * da;
            jtj[0][1] += da * db;
            jtj[1][1] += db * db;
            jtr[0] += da * r;
            jtr[1] += db * r;
        }
        jtj[1][0] = jtj[0][1];
        let m00 = jtj[0][0] * (1.0 + lambda);
        let m11 = jtj[1][1] * (1.0 + lambda);
        let det = m00 * m11 - jtj[0][1] * jtj[1][0];
        if det.abs() < 1e-300 {
            break;
        }
        let sa = -(m11 * jtr[0] - jtj[0][1] * jtr[1]) / det;
        let sb = -(m00 * jtr[1] - jtj[1][0] * jtr[0]) / det;
        let (na, nb) = (a + sa, b + sb);
        let nc = if na > 0.0 && nb > 0.0 {
            cost(na, nb)
        } else {
            f64::INFINITY
        };
        if nc < c {
            let done = (c - nc) <= 1e-15 * c.max(1e-300) && sa.abs() < 1e-12 && sb.abs() < 1e-12;
            a = na;
            b = nb;
            c = nc;
            lambda = (lambda / 10.0).max(1e-12);
            if done {
                break;
            }
        } else {
            lambda *= 10.0;
            if lambda > 1e12 {
                break;
            }
        }
    }
    (a, b)
}

fn linspace(lo: f64, hi: f64, n: usize) -> Vec<f64> {
    crate::discovery::linspace(lo, hi, n)
}

/// The first two principal components of the rows (power iteration on the covariance).
fn pca2(data: &[f32], dim: usize) -> Vec<[f64; 2]> {
    let n = data.len() / dim;
    let mut mean = vec![0.0f64; dim];
    for r in data.chunks_exact(dim) {
        for (m, &v) in mean.iter_mut().zip(r) {
            *m += v as f64;
        }
    }
    mean.iter_mut().for_each(|m| *m /= n as f64);
    let cov = data
        .par_chunks(dim * 1024)
        .map(|block| {
            let mut c = vec![0.0f64; dim * dim];
            for r in block.chunks_exact(dim) {
                let x: Vec<f64> = r.iter().zip(&mean).map(|(&v, m)| v as f64 - m).collect();
                for a in 0..dim {
                    for b in a..dim {
                        c[a * dim + b] += x[a] * x[b];
                    }
                }
            }
            c
        })
        .reduce(
            || vec![0.0f64; dim * dim],
            |mut a, b| {
                a.iter_mut().zip(&b).for_each(|(x, y)| *x += y);
                a
            },
        );
    let mut cov = cov;
    for a in 0..dim {
        for b in 0..a {
            cov[a * dim + b] = cov[b * dim + a];
        }
    }
    let mut comps: Vec<Vec<f64>> = Vec::new();
    for c in 0..2 {
        // Deterministic, non-degenerate start.
        let mut v: Vec<f64> = (0..dim)
            .map(|i| 1.0 + ((i * 7 + c * 13) % 11) as f64 / 10.0)
            .collect();
        for _ in 0..300 {
            let mut w: Vec<f64> = (0..dim)
                .map(|a| (0..dim).map(|b| cov[a * dim + b] * v[b]).sum())
                .collect();
            for p in &comps {
                let d: f64 = w.iter().zip(p).map(|(x, y)| x * y).sum();
                w.iter_mut().zip(p).for_each(|(x, y)| *x -= d * y);
            }
            let norm = w.iter().map(|x| x * x).sum::<f64>().sqrt();
            if norm == 0.0 {
                break;
            }
            w.iter_mut().for_each(|x| *x /= norm);
            v = w;
        }
        comps.push(v);
    }
    data.chunks_exact(dim)
        .map(|r| {
            let x: Vec<f64> = r.iter().zip(&mean).map(|(&v, m)| v as f64 - m).collect();
            [
                x.iter().zip(&comps[0]).map(|(a, b)| a * b).sum(),
                x.iter().zip(&comps[1]).map(|(a, b)| a * b).sum(),
            ]
        })
        .collect()
}

fn uniform(rng: &mut SplitMix64) -> f64 {
    (rng.next_u64() >> 11) as f64 / (1u64 << 53) as f64
}

/// A 2-D UMAP layout of the `dim`-wide rows of `data`: `[n, 2]` coordinates (arbitrary units).
pub fn fit(data: &[f32], dim: usize, config: &UmapConfig) -> Result<Vec<[f32; 2]>> {
    let bad = |m: String| Error::new("umap", ErrorKind::InvalidInput(m));
    if dim == 0 || !data.len().is_multiple_of(dim) {
        return Err(bad(format!(
            "{} values are not whole rows of {dim}",
            data.len()
        )));
    }
    if let Some(p) = data.iter().position(|v| !v.is_finite()) {
        return Err(Error::at(
            "umap",
            format!("row {}", p / dim),
            ErrorKind::InvalidValue(format!("{} is not finite", data[p])),
        ));
    }
    let n = data.len() / dim;
    if config.n_neighbors < 2 {
        return Err(bad("n_neighbors must be at least 2".into()));
    }
    if n <= config.n_neighbors {
        return Err(bad(format!(
            "{n} points; UMAP with n_neighbors = {} needs more",
            config.n_neighbors
        )));
    }
    let k = config.n_neighbors;
    let (indices, dists) = knn(data, dim, k, config.metric)?;
    let graph = fuzzy_graph(&indices, &dists, k);
    let n_epochs = config
        .n_epochs
        .unwrap_or(if n <= 10_000 { 500 } else { 200 });
    let (a, b) = find_ab_params(config.spread, config.min_dist);

    // Initialisation: PCA, scaled so the largest |coordinate| is 10, plus noise of 1e-4
    // (umap-learn's noisy_scale_coords), then rescaled to [0, 10] per axis.
    let mut rng = SplitMix64::new(config.seed);
    let pcs = pca2(data, dim);
    let maxabs = pcs
        .iter()
        .flat_map(|p| p.iter().map(|v| v.abs()))
        .fold(0.0f64, f64::max)
        .max(1e-12);
    let mut emb: Vec<[f64; 2]> = pcs
        .iter()
        .map(|p| {
            let mut out = [0.0; 2];
            for d in 0..2 {
                out[d] = p[d] * 10.0 / maxabs + gauss(&mut rng) * 1e-4;
            }
            out
        })
        .collect();
    for d in 0..2 {
        let lo = emb.iter().map(|p| p[d]).fold(f64::INFINITY, f64::min);
        let hi = emb.iter().map(|p| p[d]).fold(f64::NEG_INFINITY, f64::max);
        let span = (hi - lo).max(1e-12);
        emb.iter_mut()
            .for_each(|p| p[d] = 10.0 * (p[d] - lo) / span);
    }

    // Edges too weak to be sampled once in n_epochs are dropped (umap-learn does the same).
    let wmax = graph.iter().map(|e| e.2).fold(0.0f64, f64::max);
    let edges: Vec<(usize, usize, f64)> = graph
        .iter()
        .filter(|e| e.2 >= wmax / n_epochs as f64)
        .map(|&(i, j, w)| (i as usize, j as usize, w))
        .collect();
    let eps: Vec<f64> = edges
        .iter()
        .map(|e| {
            let samples = n_epochs as f64 * e.2 / wmax;
            if samples > 0.0 {
                n_epochs as f64 / samples
            } else {
                -1.0
            }
        })
        .collect();
    let neg_rate = config.negative_sample_rate as f64;
    let eps_neg: Vec<f64> = eps.iter().map(|e| e / neg_rate).collect();
    let mut next = eps.clone();
    let mut next_neg = eps_neg.clone();
    let clip = |v: f64| v.clamp(-4.0, 4.0);
    for epoch in 0..n_epochs {
        let alpha = config.learning_rate * (1.0 - epoch as f64 / n_epochs as f64);
        let ef = epoch as f64;
        for (e, &(i, j, _)) in edges.iter().enumerate() {
            if eps[e] <= 0.0 || next[e] > ef {
                continue;
            }
            let (cur, other) = (emb[i], emb[j]);
            let d2 = (cur[0] - other[0]).powi(2) + (cur[1] - other[1]).powi(2);
            let coeff = if d2 > 0.0 {
                -2.0 * a * b * d2.powf(b - 1.0) / (a * d2.powf(b) + 1.0)
            } else {
                0.0
            };
            for d in 0..2 {
                let g = clip(coeff * (cur[d] - other[d]));
                emb[i][d] += g * alpha;
                emb[j][d] -= g * alpha;
            }
            next[e] += eps[e];
            let n_neg = ((ef - next_neg[e]) / eps_neg[e]).floor().max(0.0) as usize;
            for _ in 0..n_neg {
                let kk = rng.below(n);
                if kk == i {
                    continue;
                }
                let (cur, other) = (emb[i], emb[kk]);
                let d2 = (cur[0] - other[0]).powi(2) + (cur[1] - other[1]).powi(2);
                let coeff = if d2 > 0.0 {
                    2.0 * b / ((0.001 + d2) * (a * d2.powf(b) + 1.0))
                } else {
                    0.0
                };
                for d in 0..2 {
                    let g = if coeff > 0.0 {
                        clip(coeff * (cur[d] - other[d]))
                    } else {
                        4.0
                    };
                    emb[i][d] += g * alpha;
                }
            }
            next_neg[e] += n_neg as f64 * eps_neg[e];
        }
    }
    Ok(emb.iter().map(|p| [p[0] as f32, p[1] as f32]).collect())
}

/// A standard normal draw (Box–Muller).
fn gauss(rng: &mut SplitMix64) -> f64 {
    let u1 = uniform(rng).max(1e-300);
    let u2 = uniform(rng);
    (-2.0 * u1.ln()).sqrt() * (2.0 * std::f64::consts::PI * u2).cos()
}

/// Trustworthiness of a low-dimensional layout (Venna & Kaski; scikit-learn's
/// `sklearn.manifold.trustworthiness`): 1 − 2/(n k (2n − 3k − 1)) · Σᵢ Σ_{j ∈ Uᵢᵏ} max(0, r(i, j) − k),
/// where Uᵢᵏ are the k nearest neighbours of i in the layout and r(i, j) the rank of j among
/// i's neighbours in the input space (1 = nearest, i itself excluded). `high` is `[n, dim]`
/// in `metric`, `low` is `[n, 2]` Euclidean. 1 means every layout neighbour is a true
/// neighbour. Exact: O(n²) time, O(n) memory per thread. Needs k < n/2.
pub fn trustworthiness(
    high: &[f32],
    dim: usize,
    low: &[[f32; 2]],
    k: usize,
    metric: Metric,
) -> Result<f64> {
    let n = low.len();
    let bad = |m: String| Error::new("trustworthiness", ErrorKind::InvalidInput(m));
    if dim == 0 || high.len() != n * dim {
        return Err(bad(format!(
            "{} input values for {n} layout points of dim {dim}",
            high.len()
        )));
    }
    if k == 0 || 2 * k >= n {
        return Err(bad(format!(
            "k = {k} must satisfy 1 ≤ k < n/2 = {}",
            n as f64 / 2.0
        )));
    }
    let mut unit;
    let data: &[f32] = match metric {
        Metric::Cosine => {
            unit = high.to_vec();
            normalize_rows(&mut unit, dim);
            &unit
        }
        Metric::Euclidean => high,
    };
    let penalty: f64 = (0..n)
        .into_par_iter()
        .map(|i| {
            let x = &data[i * dim..(i + 1) * dim];
            // Input-space distances from i (as a sortable key: larger = farther).
            let dist: Vec<f64> = data
                .chunks_exact(dim)
                .map(|y| match metric {
                    Metric::Cosine => {
                        1.0 - x
                            .iter()
                            .zip(y)
                            .map(|(a, b)| (*a as f64) * (*b as f64))
                            .sum::<f64>()
                    }
                    Metric::Euclidean => x
                        .iter()
                        .zip(y)
                        .map(|(a, b)| ((*a - *b) as f64).powi(2))
                        .sum::<f64>(),
                })
                .collect();
            // Layout neighbours of i: the k smallest Euclidean distances, i excluded.
            let p = low[i];
            let mut ld: Vec<(f64, usize)> = low
                .iter()
                .enumerate()
                .filter(|&(j, _)| j != i)
                .map(|(j, q)| {
                    (
                        ((p[0] - q[0]) as f64).powi(2) + ((p[1] - q[1]) as f64).powi(2),
                        j,
                    )
                })
                .collect();
            ld.select_nth_unstable_by(k - 1, |a, b| a.0.total_cmp(&b.0).then(a.1.cmp(&b.1)));
            let mut sum = 0.0;
            for &(_, j) in &ld[..k] {
                // Rank of j in input space: 1 + points (other than i) strictly closer, ties by index.
                let dj = dist[j];
                let rank = 1 + dist
                    .iter()
                    .enumerate()
                    .filter(|&(l, &d)| l != i && (d < dj || (d == dj && l < j)))
                    .count();
                if rank > k {
                    sum += (rank - k) as f64;
                }
            }
            sum
        })
        .sum();
    let (nf, kf) = (n as f64, k as f64);
    Ok(1.0 - penalty * 2.0 / (nf * kf * (2.0 * nf - 3.0 * kf - 1.0)))
}
