//! Exact top-k search by inner product (cosine on unit rows) as blocked matrix products.
//!
//! Queries are cut into blocks of [`QUERY_BLOCK`] rows and the gallery into blocks of
//! [`GALLERY_BLOCK`] rows; each (query block, gallery block) score tile is one `sgemm`
//! (matrixmultiply's packed, SIMD kernels) into a buffer that stays in L2, and each query keeps
//! a bounded heap of its best k. Work is spread over rayon threads by query block and, when
//! there are fewer query blocks than threads, also by gallery range; the partial heaps are
//! merged by (score, index), so the result does not depend on the thread count.
//!
//! Ties: a higher score ranks first; equal scores rank by the lower gallery index
//! ([`ranks_ahead`]). This is the one ranking of the workspace: `eval retrieval` and the
//! training-time validation monitor (multimat-train) both rank through [`ranks_of`].

use rayon::prelude::*;
use serde::Serialize;

use crate::embeddings::Embeddings;
use crate::error::{Error, ErrorKind, Result};

/// Query rows per score tile.
pub const QUERY_BLOCK: usize = 128;
/// Gallery rows per score tile (a 128 × 1024 f32 tile is 512 KiB).
pub const GALLERY_BLOCK: usize = 1024;

/// The k best gallery rows of every query.
#[derive(Debug, Clone, PartialEq, Serialize)]
pub struct TopK {
    /// Number of queries.
    pub queries: usize,
    /// Neighbours kept per query: min(k, gallery size).
    pub k: usize,
    /// `[queries, k]` gallery row indices, best first.
    pub indices: Vec<u32>,
    /// `[queries, k]` scores (inner products; cosine similarities for unit rows), best first.
    pub scores: Vec<f32>,
}

impl TopK {
    /// Gallery indices of query `q`, best first.
    pub fn indices_of(&self, q: usize) -> &[u32] {
        &self.indices[q * self.k..(q + 1) * self.k]
    }

    /// Scores of query `q`, best first.
    pub fn scores_of(&self, q: usize) -> &[f32] {
        &self.scores[q * self.k..(q + 1) * self.k]
    }
}

/// Whether (score a, index ia) ranks below (score b, index ib).
#[inline]
fn worse(a: f32, ia: u32, b: f32, ib: u32) -> bool {
    a < b || (a == b && ia > ib)
}

/// A bounded min-heap of the best `k` (score, index) pairs; the root is the worst kept.
#[derive(Clone)]
struct Heap {
    k: usize,
    items: Vec<(f32, u32)>,
}

impl Heap {
    fn new(k: usize) -> Self {
        Self {
            k,
            items: Vec::with_capacity(k),
        }
    }

    /// Score a candidate must beat (strictly, since candidates arrive in increasing index
    /// order within one scan) to enter.
    #[inline]
    fn threshold(&self) -> f32 {
        if self.items.len() < self.k {
            f32::NEG_INFINITY
        } else {
            self.items[0].0
        }
    }

    fn push(&mut self, s: f32, i: u32) {
        if self.items.len() < self.k {
            self.items.push((s, i));
            let mut c = self.items.len() - 1;
            while c > 0 {
                let p = (c - 1) / 2;
                if worse(
                    self.items[c].0,
                    self.items[c].1,
                    self.items[p].0,
                    self.items[p].1,
                ) {
                    self.items.swap(c, p);
                    c = p;
                } else {
                    break;
                }
            }
        } else if worse(self.items[0].0, self.items[0].1, s, i) {
            self.items[0] = (s, i);
            let n = self.items.len();
            let mut p = 0;
            loop {
                let l = 2 * p + 1;
                if l >= n {
                    break;
                }
                let r = l + 1;
                let mut m = l;
                if r < n
                    && worse(
                        self.items[r].0,
                        self.items[r].1,
                        self.items[l].0,
                        self.items[l].1,
                    )
                {
                    m = r;
                }
                if worse(
                    self.items[m].0,
                    self.items[m].1,
                    self.items[p].0,
                    self.items[p].1,
                ) {
                    self.items.swap(m, p);
                    p = m;
                } else {
                    break;
                }
            }
        }
    }

    /// Best first.
    fn into_sorted(mut self) -> Vec<(f32, u32)> {
        self.items
            .sort_by(|a, b| b.0.total_cmp(&a.0).then(a.1.cmp(&b.1)));
        self.items
    }
}

/// `c[qb × gb] = q[qb × dim] · g[gb × dim]ᵀ`, both row-major.
fn tile(q: &[f32], g: &[f32], dim: usize, qb: usize, gb: usize, c: &mut [f32]) {
    // SAFETY: the slices hold qb·dim, gb·dim and qb·gb elements (checked by the callers'
    // chunking), and the strides below address exactly those elements.
    debug_assert!(q.len() >= qb * dim && g.len() >= gb * dim && c.len() >= qb * gb);
    unsafe {
        matrixmultiply::sgemm(
            qb,
            dim,
            gb,
            1.0,
            q.as_ptr(),
            dim as isize,
            1,
            g.as_ptr(),
            1,
            dim as isize,
            0.0,
            c.as_mut_ptr(),
            gb as isize,
            1,
        );
    }
}

/// Checks the shapes shared by [`top_k`] and [`ranks_of`].
fn check(queries: &[f32], gallery: &[f32], dim: usize) -> Result<(usize, usize)> {
    let bad = |m: String| Error::new("search", ErrorKind::Shape(m));
    if dim == 0 {
        return Err(bad("dim is 0".into()));
    }
    if !queries.len().is_multiple_of(dim) || !gallery.len().is_multiple_of(dim) {
        return Err(bad(format!(
            "{} query values and {} gallery values are not whole rows of {dim}",
            queries.len(),
            gallery.len()
        )));
    }
    let n = gallery.len() / dim;
    if n > u32::MAX as usize {
        return Err(bad(format!("gallery of {n} rows exceeds 2^32")));
    }
    Ok((queries.len() / dim, n))
}

/// The `k` largest inner products of each query row against the gallery rows (both row-major,
/// `dim` wide). For cosine similarity pass unit rows ([`crate::embeddings::normalize_rows`]),
/// or use [`cosine_top_k`]. k larger than the gallery keeps the whole gallery.
pub fn top_k(queries: &[f32], gallery: &[f32], dim: usize, k: usize) -> Result<TopK> {
    let (nq, n) = check(queries, gallery, dim)?;
    if k == 0 {
        return Err(Error::new(
            "search",
            ErrorKind::InvalidInput("k must be at least 1".into()),
        ));
    }
    let k = k.min(n);
    if nq == 0 || k == 0 {
        return Ok(TopK {
            queries: nq,
            k,
            indices: Vec::new(),
            scores: Vec::new(),
        });
    }
    let qblocks = nq.div_ceil(QUERY_BLOCK);
    let gblocks = n.div_ceil(GALLERY_BLOCK);
    // Enough tasks to keep every thread busy even for a handful of queries.
    let threads = rayon::current_num_threads().max(1);
    let parts = (2 * threads).div_ceil(qblocks).clamp(1, gblocks);
    let blocks_per_part = gblocks.div_ceil(parts);
    let tasks: Vec<(usize, usize)> = (0..qblocks)
        .flat_map(|qb| (0..parts).map(move |p| (qb, p)))
        .collect();
    let partial: Vec<Vec<Heap>> = tasks
        .par_iter()
        .map(|&(qb, p)| {
            let q0 = qb * QUERY_BLOCK;
            let q1 = (q0 + QUERY_BLOCK).min(nq);
            let rows = q1 - q0;
            let qs = &queries[q0 * dim..q1 * dim];
            let mut heaps = vec![Heap::new(k); rows];
            let mut c = vec![0f32; rows * GALLERY_BLOCK];
            let b0 = p * blocks_per_part;
            let b1 = ((p + 1) * blocks_per_part).min(gblocks);
            for b in b0..b1 {
                let g0 = b * GALLERY_BLOCK;
                let g1 = (g0 + GALLERY_BLOCK).min(n);
                let gb = g1 - g0;
                tile(qs, &gallery[g0 * dim..g1 * dim], dim, rows, gb, &mut c);
                for (r, heap) in heaps.iter_mut().enumerate() {
                    let row = &c[r * gb..(r + 1) * gb];
                    let mut t = heap.threshold();
                    for (j, &s) in row.iter().enumerate() {
                        if s > t {
                            heap.push(s, (g0 + j) as u32);
                            t = heap.threshold();
                        }
                    }
                }
            }
            heaps
        })
        .collect();
    let mut indices = Vec::with_capacity(nq * k);
    let mut scores = Vec::with_capacity(nq * k);
    for qb in 0..qblocks {
        let rows = ((qb + 1) * QUERY_BLOCK).min(nq) - qb * QUERY_BLOCK;
        for r in 0..rows {
            let mut merged = Heap::new(k);
            for p in 0..parts {
                for &(s, i) in &partial[qb * parts + p][r].items {
                    merged.push(s, i);
                }
            }
            for (s, i) in merged.into_sorted() {
                indices.push(i);
                scores.push(s);
            }
        }
    }
    Ok(TopK {
        queries: nq,
        k,
        indices,
        scores,
    })
}

/// Cosine top-k of `query` rows against `gallery` rows (both normalised here with the
/// reference's eps); the dims must agree.
pub fn cosine_top_k(query: &Embeddings, gallery: &Embeddings, k: usize) -> Result<TopK> {
    if query.dim != gallery.dim {
        return Err(Error::new(
            "search",
            ErrorKind::Shape(format!(
                "{} embeddings have dim {}, {} embeddings dim {}",
                query.modality, query.dim, gallery.modality, gallery.dim
            )),
        ));
    }
    let q = query.normalized();
    let g = gallery.normalized();
    top_k(&q.values, &g.values, q.dim, k)
}

/// The tie rule of every ranking here: whether gallery row `j` scoring `score` ranks ahead of
/// the target row `target` scoring `target_score`. A higher score ranks first; equal scores
/// rank by the lower gallery index, so a tie with an earlier row costs the target one place
/// and a tie with a later row costs nothing.
#[inline]
pub fn ranks_ahead(score: f32, j: usize, target_score: f32, target: usize) -> bool {
    score > target_score || (score == target_score && j < target)
}

/// 1-based rank of entry `target` in one row of similarity `scores` (higher = more similar)
/// under the tie rule of [`ranks_ahead`]. Panics if `target` is past the row.
pub fn rank_in_row(scores: &[f32], target: usize) -> usize {
    let t = scores[target];
    1 + scores
        .iter()
        .enumerate()
        .filter(|&(j, &s)| ranks_ahead(s, j, t, target))
        .count()
}

/// For each query `q`, the 1-based rank of gallery row `targets[q]` among all gallery rows by
/// descending inner product: 1 + (rows scoring higher) + (rows scoring equal with a lower
/// index), the same order as [`top_k`]. Blocked like [`top_k`]; memory O(tile).
pub fn ranks_of(
    queries: &[f32],
    gallery: &[f32],
    dim: usize,
    targets: &[usize],
) -> Result<Vec<usize>> {
    let (nq, n) = check(queries, gallery, dim)?;
    if targets.len() != nq {
        return Err(Error::new(
            "search",
            ErrorKind::Shape(format!("{} targets for {nq} queries", targets.len())),
        ));
    }
    if let Some((q, &t)) = targets.iter().enumerate().find(|(_, &t)| t >= n) {
        return Err(Error::at(
            "search",
            format!("query {q}"),
            ErrorKind::InvalidInput(format!("target row {t} past the gallery's {n} rows")),
        ));
    }
    let qblocks = nq.div_ceil(QUERY_BLOCK);
    let gblocks = n.div_ceil(GALLERY_BLOCK);
    let counts: Vec<Vec<usize>> = (0..qblocks)
        .into_par_iter()
        .map(|qb| {
            let q0 = qb * QUERY_BLOCK;
            let q1 = (q0 + QUERY_BLOCK).min(nq);
            let rows = q1 - q0;
            let qs = &queries[q0 * dim..q1 * dim];
            let mut c = vec![0f32; rows * GALLERY_BLOCK];
            // Target scores from the tile holding the target: sgemm results can differ in the
            // last bit between tile shapes, so every score of a row must come from tiles of the
            // same kernel path. Pass 1 finds them, pass 2 counts.
            let mut target = vec![0f32; rows];
            for b in 0..gblocks {
                let g0 = b * GALLERY_BLOCK;
                let g1 = (g0 + GALLERY_BLOCK).min(n);
                let gb = g1 - g0;
                let hit: Vec<usize> = (0..rows)
                    .filter(|&r| (g0..g1).contains(&targets[q0 + r]))
                    .collect();
                if hit.is_empty() {
                    continue;
                }
                tile(qs, &gallery[g0 * dim..g1 * dim], dim, rows, gb, &mut c);
                for r in hit {
                    target[r] = c[r * gb + targets[q0 + r] - g0];
                }
            }
            let mut count = vec![1usize; rows];
            for b in 0..gblocks {
                let g0 = b * GALLERY_BLOCK;
                let g1 = (g0 + GALLERY_BLOCK).min(n);
                let gb = g1 - g0;
                tile(qs, &gallery[g0 * dim..g1 * dim], dim, rows, gb, &mut c);
                for r in 0..rows {
                    let t = target[r];
                    let ti = targets[q0 + r];
                    let row = &c[r * gb..(r + 1) * gb];
                    count[r] += row
                        .iter()
                        .enumerate()
                        .filter(|&(j, &s)| ranks_ahead(s, g0 + j, t, ti))
                        .count();
                }
            }
            count
        })
        .collect();
    Ok(counts.into_iter().flatten().collect())
}

/// The plain per-pair search used as the benchmark baseline and as a test oracle: every score
/// with a scalar dot product, a full sort, the first k. O(N log N) per query.
pub fn naive_top_k(queries: &[f32], gallery: &[f32], dim: usize, k: usize) -> Result<TopK> {
    let (nq, n) = check(queries, gallery, dim)?;
    let k = k.min(n);
    let mut indices = Vec::with_capacity(nq * k);
    let mut scores = Vec::with_capacity(nq * k);
    for q in queries.chunks_exact(dim) {
        let mut all: Vec<(f32, u32)> = gallery
            .chunks_exact(dim)
            .enumerate()
            .map(|(j, g)| (q.iter().zip(g).map(|(a, b)| a * b).sum::<f32>(), j as u32))
            .collect();
        all.sort_by(|a, b| b.0.total_cmp(&a.0).then(a.1.cmp(&b.1)));
        for &(s, j) in &all[..k] {
            indices.push(j);
            scores.push(s);
        }
    }
    Ok(TopK {
        queries: nq,
        k,
        indices,
        scores,
    })
}
