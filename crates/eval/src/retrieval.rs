//! Cross-modal retrieval (spec §5.1): for every query material, the rank of its own partner
//! among all gallery materials by cosine similarity, over the materials both sets share.
//!
//! `rank = 1 + #(gallery items scoring higher)` (+ items scoring equal with a lower gallery
//! index: the reference's sort leaves tie order unspecified; this makes it deterministic).
//! Top-k accuracy = #(rank ≤ k) / N; mean and median rank (1-based). Chance levels for a
//! uniformly random ranking: min(k, N) / N and (N + 1) / 2.

use serde::Serialize;

use crate::embeddings::Embeddings;
use crate::error::{Error, ErrorKind, Result};
use crate::search;

/// The k of the top-k accuracies the paper reports.
pub const TOP_KS: [usize; 4] = [1, 5, 10, 25];

/// Top-k accuracy beside its chance level.
#[derive(Debug, Clone, PartialEq, Serialize)]
pub struct TopKAccuracy {
    pub k: usize,
    /// Fraction of queries whose partner ranks ≤ k (0–1).
    pub accuracy: f64,
    /// The same for a random ranking: min(k, N) / N.
    pub chance: f64,
}

/// Retrieval from one modality (queries) into another (gallery).
#[derive(Debug, Clone, PartialEq, Serialize)]
pub struct RetrievalReport {
    /// Modality of the queries (e.g. `dos`).
    pub query_modality: String,
    /// Modality searched (e.g. `crystal`).
    pub gallery_modality: String,
    /// Materials present in both sets: the queries, and the candidate pool.
    pub n: usize,
    /// Query ids without a gallery embedding (left out).
    pub unmatched_queries: usize,
    /// Gallery ids without a query embedding (left out of the pool).
    pub unmatched_gallery: usize,
    /// Accuracies at k = 1, 5, 10, 25.
    pub top_k: Vec<TopKAccuracy>,
    /// Mean 1-based rank of the true partner.
    pub mean_rank: f64,
    /// Median 1-based rank (mean of the two middle ranks for even N, as numpy).
    pub median_rank: f64,
    /// Mean (and median) rank of a random ranking: (N + 1) / 2.
    pub chance_mean_rank: f64,
}

/// Ranks and the report of one ordered pair, with the per-query ranks (query ids in the order
/// of the matched set) for callers that plot or export them.
#[derive(Debug, Clone, PartialEq, Serialize)]
pub struct RetrievalDetail {
    pub report: RetrievalReport,
    /// Ids of the matched queries, in query order.
    pub ids: Vec<String>,
    /// 1-based rank of each matched query's partner.
    pub ranks: Vec<usize>,
}

/// The ranks of the true partners: `query` and `gallery` are matched by id (ids in both;
/// query order), and each matched query is ranked against all matched gallery rows.
pub fn evaluate_detailed(query: &Embeddings, gallery: &Embeddings) -> Result<RetrievalDetail> {
    if query.dim != gallery.dim {
        return Err(Error::new(
            "retrieval",
            ErrorKind::Shape(format!(
                "{} embeddings have dim {}, {} embeddings dim {}",
                query.modality, query.dim, gallery.modality, gallery.dim
            )),
        ));
    }
    let gindex = gallery.index();
    let ids: Vec<String> = query
        .ids
        .iter()
        .filter(|id| gindex.contains_key(id.as_str()))
        .cloned()
        .collect();
    if ids.is_empty() {
        return Err(Error::new(
            "retrieval",
            ErrorKind::InvalidInput(format!(
                "{} and {} embeddings share no material id",
                query.modality, gallery.modality
            )),
        ));
    }
    // Pool and queries in the same order, so the partner of query i is gallery row i.
    let q = query.select(&ids)?.normalized();
    let g = gallery.select(&ids)?.normalized();
    let targets: Vec<usize> = (0..ids.len()).collect();
    let ranks = search::ranks_of(&q.values, &g.values, q.dim, &targets)?;
    let report = report_from_ranks(
        &ranks,
        &query.modality,
        &gallery.modality,
        query.len() - ids.len(),
        gallery.len() - ids.len(),
    );
    Ok(RetrievalDetail { report, ids, ranks })
}

/// [`evaluate_detailed`] without the per-query ranks.
pub fn evaluate(query: &Embeddings, gallery: &Embeddings) -> Result<RetrievalReport> {
    Ok(evaluate_detailed(query, gallery)?.report)
}

/// Every ordered pair (a → b, a ≠ b) of the given modalities, in input order.
pub fn evaluate_all(sets: &[Embeddings]) -> Result<Vec<RetrievalReport>> {
    let mut out = Vec::new();
    for a in sets {
        for b in sets {
            if !std::ptr::eq(a, b) {
                out.push(evaluate(a, b)?);
            }
        }
    }
    Ok(out)
}

/// The metrics of a list of 1-based ranks in a pool of `ranks.len()` items.
pub fn report_from_ranks(
    ranks: &[usize],
    query_modality: &str,
    gallery_modality: &str,
    unmatched_queries: usize,
    unmatched_gallery: usize,
) -> RetrievalReport {
    let n = ranks.len();
    let nf = n as f64;
    let top_k = TOP_KS
        .iter()
        .map(|&k| TopKAccuracy {
            k,
            accuracy: if n == 0 {
                0.0
            } else {
                ranks.iter().filter(|&&r| r <= k).count() as f64 / nf
            },
            chance: if n == 0 { 0.0 } else { k.min(n) as f64 / nf },
        })
        .collect();
    RetrievalReport {
        query_modality: query_modality.to_string(),
        gallery_modality: gallery_modality.to_string(),
        n,
        unmatched_queries,
        unmatched_gallery,
        top_k,
        mean_rank: if n == 0 {
            0.0
        } else {
            ranks.iter().map(|&r| r as f64).sum::<f64>() / nf
        },
        median_rank: median(ranks),
        chance_mean_rank: (nf + 1.0) / 2.0,
    }
}

/// numpy's median of integers: the middle value, or the mean of the two middle values.
fn median(ranks: &[usize]) -> f64 {
    if ranks.is_empty() {
        return 0.0;
    }
    let mut s = ranks.to_vec();
    s.sort_unstable();
    let m = s.len() / 2;
    if s.len() % 2 == 1 {
        s[m] as f64
    } else {
        (s[m - 1] as f64 + s[m] as f64) / 2.0
    }
}
