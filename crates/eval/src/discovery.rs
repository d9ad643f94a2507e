//! Material discovery by DOS (spec §5.2): for a target DOS embedding, the candidate crystals
//! with the most similar embeddings; scored by the normalised MAE between the target's DOS
//! and the best of the first N candidates' DOS, N = 1 … 15, beside random candidates.
//!
//! ```text
//! window = [-5, 5] eV;  n_pts = int(mean over all materials of #(energies inside window))
//! grid   = linspace(-5, 5, n_pts)
//! ρ̃      = np.interp(grid, E, ρ)        (values outside a curve's range clamp to its ends)
//! nMAE   = trapz(|ρ̃_t − ρ̃_c|, grid) / trapz(ρ̃_t, grid);   targets with trapz(ρ̃_t) = 0 skipped
//! score_N(q) = min over the first N neighbours;   curve = mean_q score_N(q)
//! ```

use std::collections::HashMap;

use multimat_dataset::SplitMix64;
use rayon::prelude::*;
use serde::Serialize;

use crate::embeddings::Embeddings;
use crate::error::{Error, ErrorKind, Result};
use crate::search;

/// A density of states on its own energy axis.
#[derive(Debug, Clone, PartialEq)]
pub struct Dos {
    /// E − E_F (eV), non-decreasing.
    pub energies: Vec<f64>,
    /// DOS (states/eV), one per energy.
    pub values: Vec<f64>,
}

impl Dos {
    /// Checks lengths (equal, ≥ 1), finiteness and that the energies never decrease
    /// (np.interp's precondition). `source_name` names the curve in errors.
    pub fn new(energies: Vec<f64>, values: Vec<f64>, source_name: &str) -> Result<Self> {
        if energies.is_empty() || energies.len() != values.len() {
            return Err(Error::new(
                source_name,
                ErrorKind::Shape(format!(
                    "{} energies and {} DOS values (need equal, non-zero lengths)",
                    energies.len(),
                    values.len()
                )),
            ));
        }
        for (i, (e, v)) in energies.iter().zip(&values).enumerate() {
            if !e.is_finite() || !v.is_finite() {
                return Err(Error::at(
                    source_name,
                    format!("point {i}"),
                    ErrorKind::InvalidValue(format!("energy {e} eV, DOS {v}")),
                ));
            }
            if i > 0 && *e < energies[i - 1] {
                return Err(Error::at(
                    source_name,
                    format!("point {i}"),
                    ErrorKind::InvalidValue(format!(
                        "energy {e} eV is below the previous {} eV (energies must not decrease)",
                        energies[i - 1]
                    )),
                ));
            }
        }
        Ok(Self { energies, values })
    }

    /// From the store's / model's `[2, L]` DOS row: row 0 energies (E − E_F, eV), row 1 DOS.
    pub fn from_model_input(row: &[f32], source_name: &str) -> Result<Self> {
        if row.len() < 2 || !row.len().is_multiple_of(2) {
            return Err(Error::new(
                source_name,
                ErrorKind::Shape(format!(
                    "a [2, L] DOS row has an even length, got {}",
                    row.len()
                )),
            ));
        }
        let l = row.len() / 2;
        Self::new(
            row[..l].iter().map(|&v| v as f64).collect(),
            row[l..].iter().map(|&v| v as f64).collect(),
            source_name,
        )
    }

    /// Energy points with window.0 ≤ E ≤ window.1.
    pub fn points_inside(&self, window: (f64, f64)) -> usize {
        self.energies
            .iter()
            .filter(|&&e| e >= window.0 && e <= window.1)
            .count()
    }
}

/// The grid size of §5.2: ⌊mean over `curves` of the points inside `window`⌋ (Python's `int`
/// of a non-negative mean).
pub fn grid_size<'a>(curves: impl IntoIterator<Item = &'a Dos>, window: (f64, f64)) -> usize {
    let (mut total, mut n) = (0usize, 0usize);
    for c in curves {
        total += c.points_inside(window);
        n += 1;
    }
    if n == 0 {
        0
    } else {
        (total as f64 / n as f64) as usize
    }
}

/// `numpy.linspace(lo, hi, n)` (endpoint included; `lo` alone for n = 1).
pub fn linspace(lo: f64, hi: f64, n: usize) -> Vec<f64> {
    match n {
        0 => Vec::new(),
        1 => vec![lo],
        _ => {
            let step = (hi - lo) / (n - 1) as f64;
            let mut v: Vec<f64> = (0..n).map(|i| lo + i as f64 * step).collect();
            v[n - 1] = hi;
            v
        }
    }
}

/// `numpy.interp(x, xp, fp)`: piecewise-linear, clamped to `fp[0]` below `xp[0]` and to the
/// last value above the last point. `xp` must be non-decreasing and non-empty ([`Dos::new`]
/// checks both).
pub fn interp(x: &[f64], xp: &[f64], fp: &[f64]) -> Vec<f64> {
    let n = xp.len();
    x.iter()
        .map(|&xi| {
            if n == 0 {
                return f64::NAN;
            }
            if xi <= xp[0] {
                // numpy returns fp[0] at and below the first point (the last of equal firsts
                // only matters for a vertical step, where numpy also takes the left value).
                return fp[0];
            }
            if xi >= xp[n - 1] {
                return fp[n - 1];
            }
            // First index with xp[j] > xi; then xp[j-1] <= xi < xp[j].
            let j = xp.partition_point(|&v| v <= xi);
            let (x0, x1, y0, y1) = (xp[j - 1], xp[j], fp[j - 1], fp[j]);
            let slope = (y1 - y0) / (x1 - x0);
            slope * (xi - x0) + y0
        })
        .collect()
}

/// `numpy.trapz(y, x)`.
pub fn trapz(y: &[f64], x: &[f64]) -> f64 {
    y.windows(2)
        .zip(x.windows(2))
        .map(|(y, x)| (x[1] - x[0]) * (y[0] + y[1]) / 2.0)
        .sum()
}

/// nMAE of `candidate` against `target`, both already on `grid`; `None` when the target's area
/// is exactly 0 (such targets are skipped, as in the reference).
pub fn nmae(target: &[f64], candidate: &[f64], grid: &[f64]) -> Option<f64> {
    let area = trapz(target, grid);
    if area == 0.0 {
        return None;
    }
    let diff: Vec<f64> = target
        .iter()
        .zip(candidate)
        .map(|(a, b)| (a - b).abs())
        .collect();
    Some(trapz(&diff, grid) / area)
}

/// Settings of [`evaluate`]; defaults are the paper's.
#[derive(Debug, Clone, PartialEq, Serialize)]
pub struct DiscoveryConfig {
    /// Energy window (eV, relative to E_F).
    pub window: (f64, f64),
    /// Largest N of the best-of-N curve (15).
    pub max_n: usize,
    /// Neighbours retrieved per target (25).
    pub k: usize,
    /// Seed of the random-candidate baseline.
    pub seed: u64,
}

impl Default for DiscoveryConfig {
    fn default() -> Self {
        Self {
            window: (-5.0, 5.0),
            max_n: 15,
            k: 25,
            seed: 42,
        }
    }
}

/// One point of the nMAE-vs-N curve.
#[derive(Debug, Clone, PartialEq, Serialize)]
pub struct CurvePoint {
    pub n: usize,
    /// Mean over targets of the best nMAE among the N most similar candidates.
    pub model: f64,
    /// The same for N candidates drawn at random (seeded).
    pub random: f64,
}

/// The §5.2 evaluation.
#[derive(Debug, Clone, PartialEq, Serialize)]
pub struct DiscoveryReport {
    /// Modality of the targets (`dos`) and of the candidates (`crystal`).
    pub target_modality: String,
    pub candidate_modality: String,
    pub window_ev: (f64, f64),
    /// Points of the common energy grid.
    pub grid_points: usize,
    /// Targets scored.
    pub targets: usize,
    /// Targets skipped because their area on the grid is 0.
    pub skipped_zero_area: usize,
    /// Targets skipped because no DOS was given for them.
    pub skipped_no_dos: usize,
    /// Candidates in the pool (those with a DOS).
    pub candidates: usize,
    /// Candidate embeddings left out because no DOS was given for them.
    pub candidates_without_dos: usize,
    pub seed: u64,
    /// N = 1 … max_n.
    pub curve: Vec<CurvePoint>,
}

/// One target's scores.
#[derive(Debug, Clone, PartialEq, Serialize)]
pub struct TargetScores {
    pub id: String,
    /// The k nearest candidates: (id, cosine similarity, nMAE).
    pub neighbours: Vec<(String, f32, f64)>,
    /// best-of-N nMAE for N = 1 … max_n (model ranking).
    pub best_of: Vec<f64>,
    /// best-of-N nMAE for random candidates.
    pub random_best_of: Vec<f64>,
}

/// A nearest candidate of a target.
#[derive(Debug, Clone, PartialEq, Serialize)]
pub struct Neighbour {
    pub id: String,
    /// Cosine similarity of the embeddings.
    pub similarity: f32,
}

/// The `k` candidates whose embeddings are most cosine-similar to `target` (a `dim`-wide
/// embedding, e.g. of a DOS), best first.
pub fn nearest(target: &[f32], candidates: &Embeddings, k: usize) -> Result<Vec<Neighbour>> {
    let q = Embeddings::new(
        vec!["target".into()],
        "target",
        target.len(),
        target.to_vec(),
        "target embedding",
    )?;
    let top = search::cosine_top_k(&q, candidates, k)?;
    Ok(top
        .indices_of(0)
        .iter()
        .zip(top.scores_of(0))
        .map(|(&i, &s)| Neighbour {
            id: candidates.ids[i as usize].clone(),
            similarity: s,
        })
        .collect())
}

/// §5.2 over all `targets` (DOS embeddings) against `candidates` (crystal embeddings).
/// `dos` maps material ids to DOS curves and should hold every material's DOS: the grid size
/// is the mean number of points inside the window over all of them, as in the reference.
/// A candidate with the target's own id is never its neighbour.
pub fn evaluate(
    targets: &Embeddings,
    candidates: &Embeddings,
    dos: &HashMap<String, Dos>,
    config: &DiscoveryConfig,
) -> Result<DiscoveryReport> {
    Ok(evaluate_detailed(targets, candidates, dos, config)?.0)
}

/// [`evaluate`] with the per-target scores.
pub fn evaluate_detailed(
    targets: &Embeddings,
    candidates: &Embeddings,
    dos: &HashMap<String, Dos>,
    config: &DiscoveryConfig,
) -> Result<(DiscoveryReport, Vec<TargetScores>)> {
    let bad = |m: String| Error::new("discovery", ErrorKind::InvalidInput(m));
    if config.max_n == 0 || config.k < config.max_n {
        return Err(bad(format!(
            "need 1 ≤ max_n ≤ k, got max_n {} and k {}",
            config.max_n, config.k
        )));
    }
    if !(config.window.0 < config.window.1) {
        return Err(bad(format!("empty energy window {:?}", config.window)));
    }
    let n_pts = grid_size(dos.values(), config.window);
    if n_pts < 2 {
        return Err(bad(format!(
            "the DOS curves have on average {n_pts} points inside {:?} eV; at least 2 are needed",
            config.window
        )));
    }
    let grid = linspace(config.window.0, config.window.1, n_pts);
    let with_dos: Vec<String> = candidates
        .ids
        .iter()
        .filter(|id| dos.contains_key(id.as_str()))
        .cloned()
        .collect();
    if with_dos.len() < config.max_n + 1 {
        return Err(bad(format!(
            "{} candidates have a DOS; need more than max_n = {}",
            with_dos.len(),
            config.max_n
        )));
    }
    let pool = candidates.select(&with_dos)?;
    let on_grid = |id: &str| -> Vec<f64> {
        let d = &dos[id];
        interp(&grid, &d.energies, &d.values)
    };
    let pool_grid: Vec<Vec<f64>> = pool.ids.par_iter().map(|id| on_grid(id)).collect();

    let mut skipped_no_dos = 0;
    let mut skipped_zero_area = 0;
    let mut scored_ids = Vec::new();
    let mut target_grids = Vec::new();
    for id in &targets.ids {
        if !dos.contains_key(id.as_str()) {
            skipped_no_dos += 1;
            continue;
        }
        let t = on_grid(id);
        if trapz(&t, &grid) == 0.0 {
            skipped_zero_area += 1;
            continue;
        }
        scored_ids.push(id.clone());
        target_grids.push(t);
    }
    let queries = targets.select(&scored_ids)?;
    // One extra neighbour in case the target itself is among the candidates.
    let top = search::cosine_top_k(&queries, &pool, config.k + 1)?;
    let pool_index = pool.index();
    let scores: Vec<TargetScores> = (0..scored_ids.len())
        .into_par_iter()
        .map(|q| {
            let id = &scored_ids[q];
            let t = &target_grids[q];
            let own = pool_index.get(id.as_str()).copied();
            let neighbours: Vec<(String, f32, f64)> = top
                .indices_of(q)
                .iter()
                .zip(top.scores_of(q))
                .filter(|(&i, _)| Some(i as usize) != own)
                .take(config.k)
                .map(|(&i, &s)| {
                    let e = nmae(t, &pool_grid[i as usize], &grid).unwrap_or(f64::NAN);
                    (pool.ids[i as usize].clone(), s, e)
                })
                .collect();
            let best_of = running_min(neighbours.iter().map(|n| n.2), config.max_n);
            // Random baseline: max_n distinct candidates other than the target itself.
            let mut rng =
                SplitMix64::new(config.seed ^ (q as u64).wrapping_mul(0x9E37_79B9_7F4A_7C15));
            let mut picked: Vec<usize> = Vec::with_capacity(config.max_n);
            while picked.len() < config.max_n {
                let c = rng.below(pool.len());
                if Some(c) != own && !picked.contains(&c) {
                    picked.push(c);
                }
            }
            let random_best_of = running_min(
                picked
                    .iter()
                    .map(|&c| nmae(t, &pool_grid[c], &grid).unwrap_or(f64::NAN)),
                config.max_n,
            );
            TargetScores {
                id: id.clone(),
                neighbours,
                best_of,
                random_best_of,
            }
        })
        .collect();
    let nt = scores.len();
    let curve = (0..config.max_n)
        .map(|i| CurvePoint {
            n: i + 1,
            model: scores.iter().map(|s| s.best_of[i]).sum::<f64>() / nt.max(1) as f64,
            random: scores.iter().map(|s| s.random_best_of[i]).sum::<f64>() / nt.max(1) as f64,
        })
        .collect();
    let report = DiscoveryReport {
        target_modality: targets.modality.clone(),
        candidate_modality: candidates.modality.clone(),
        window_ev: config.window,
        grid_points: n_pts,
        targets: nt,
        skipped_zero_area,
        skipped_no_dos,
        candidates: pool.len(),
        candidates_without_dos: candidates.len() - pool.len(),
        seed: config.seed,
        curve,
    };
    Ok((report, scores))
}

/// min of the first 1, 2, …, n values.
fn running_min(values: impl Iterator<Item = f64>, n: usize) -> Vec<f64> {
    let mut out = Vec::with_capacity(n);
    let mut best = f64::INFINITY;
    for v in values.take(n) {
        best = best.min(v);
        out.push(best);
    }
    out
}
