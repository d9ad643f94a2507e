//! The per-epoch check on held-out materials: cross-modal retrieval of the true partner among
//! the validation materials (spec §5.1's protocol on the validation split). The full
//! evaluation with every ordered pair and rank statistics lives in the eval layer; this is the
//! training-time monitor.

use serde::{Deserialize, Serialize};

/// Retrieval of one ordered modality pair over n held-out materials.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct PairRetrieval {
    /// Query modality.
    pub query: String,
    /// Gallery modality.
    pub gallery: String,
    /// Materials that have both modalities.
    pub n: usize,
    /// Fraction of queries whose partner is the most similar gallery item.
    pub top1: f64,
    /// ... among the 5 most similar.
    pub top5: f64,
    /// ... among the 10 most similar.
    pub top10: f64,
    /// Chance level of top-5 (5 / n).
    pub chance_top5: f64,
    /// Mean 1-based rank of the partner.
    pub mean_rank: f64,
}

/// L2-normalises each row of `x` (`n × d`, row-major) in place.
pub fn normalize_rows(x: &mut [f32], d: usize) {
    for row in x.chunks_mut(d) {
        let norm = row.iter().map(|v| v * v).sum::<f32>().sqrt().max(1e-12);
        row.iter_mut().for_each(|v| *v /= norm);
    }
}

/// 1-based rank of each query's partner (row i of `gallery`) by inner product (cosine
/// similarity on unit rows), ranked by [`multimat_eval::search::ranks_of`], the ranking of
/// `eval retrieval`: a gallery item more similar than the partner ranks ahead of it, and one
/// exactly as similar ranks ahead only when its index is lower (ties broken by index), so the
/// monitor's top-k is the evaluation's top-k on the same embeddings.
///
/// Panics unless `d > 0` and both matrices hold the same whole number of `d`-wide rows.
pub fn partner_ranks(query: &[f32], gallery: &[f32], d: usize) -> Vec<usize> {
    assert!(
        d > 0 && query.len() == gallery.len() && query.len().is_multiple_of(d),
        "partner_ranks: {} query and {} gallery values are not the same n × {d}",
        query.len(),
        gallery.len()
    );
    let targets: Vec<usize> = (0..query.len() / d).collect();
    multimat_eval::search::ranks_of(query, gallery, d, &targets)
        .expect("shapes checked above: whole rows, one target per query inside the gallery")
}

/// Retrieval statistics of `query` → `gallery` (both `n × d`, already normalised, row i of
/// each the same material).
pub fn pair_retrieval(
    query_name: &str,
    gallery_name: &str,
    query: &[f32],
    gallery: &[f32],
    d: usize,
) -> PairRetrieval {
    let ranks = partner_ranks(query, gallery, d);
    let n = ranks.len();
    let frac = |k: usize| {
        if n == 0 {
            0.0
        } else {
            ranks.iter().filter(|&&r| r <= k).count() as f64 / n as f64
        }
    };
    PairRetrieval {
        query: query_name.into(),
        gallery: gallery_name.into(),
        n,
        top1: frac(1),
        top5: frac(5),
        top10: frac(10),
        chance_top5: if n == 0 {
            0.0
        } else {
            (5.0 / n as f64).min(1.0)
        },
        mean_rank: if n == 0 {
            0.0
        } else {
            ranks.iter().sum::<usize>() as f64 / n as f64
        },
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn ranks_by_hand() {
        // d = 2. Query 0 = (1,0): partner (1,0) sim 1, others (0,1) 0 and (0.6,0.8) 0.6 → rank 1.
        // Query 1 = (0,1): partner (0,1)... set gallery row 1 = (0.6, 0.8) → sim 0.8; row 2 =
        // (0,1) sim 1 → rank 2. Query 2 = (1,0): partner row 2 (0,1) sim 0; rows 0 (1) and
        // 1 (0.6) ahead → rank 3.
        let q = [1.0, 0.0, 0.0, 1.0, 1.0, 0.0];
        let g = [1.0, 0.0, 0.6, 0.8, 0.0, 1.0];
        assert_eq!(partner_ranks(&q, &g, 2), vec![1, 2, 3]);
        let r = pair_retrieval("a", "b", &q, &g, 2);
        assert!((r.top1 - 1.0 / 3.0).abs() < 1e-12);
        assert_eq!(r.top5, 1.0);
        assert_eq!(r.mean_rank, 2.0);
        assert_eq!(r.chance_top5, 1.0);
    }

    #[test]
    fn ties_are_broken_by_index() {
        // Both gallery rows are equally similar to both queries: query 0's partner (row 0)
        // wins the tie, query 1's partner (row 1) loses it to row 0.
        let q = [1.0, 0.0, 1.0, 0.0];
        let g = [1.0, 0.0, 1.0, 0.0];
        assert_eq!(partner_ranks(&q, &g, 2), vec![1, 2]);
    }

    /// The monitor's top-k and `eval retrieval`'s top-k on the same embeddings, with ties.
    #[test]
    fn agrees_with_eval_retrieval() {
        use multimat_eval::{retrieval, Embeddings};
        // Six materials, d = 2; queries 0-2 and gallery rows 0-3 are the same direction, so
        // their similarities tie exactly; 4 and 5 are distinct.
        let q: Vec<f32> = [
            [1.0, 0.0],
            [1.0, 0.0],
            [1.0, 0.0],
            [0.0, 1.0],
            [0.6, 0.8],
            [0.8, 0.6],
        ]
        .concat();
        let g: Vec<f32> = [
            [1.0, 0.0],
            [1.0, 0.0],
            [1.0, 0.0],
            [1.0, 0.0],
            [0.6, 0.8],
            [0.0, 1.0],
        ]
        .concat();
        let ids: Vec<String> = (0..6).map(|i| format!("mp-{i}")).collect();
        let qe = Embeddings::new(ids.clone(), "dos", 2, q.clone(), "test").unwrap();
        let ge = Embeddings::new(ids, "crystal", 2, g.clone(), "test").unwrap();
        let report = retrieval::evaluate(&qe, &ge).unwrap();
        let monitor = pair_retrieval("dos", "crystal", &q, &g, 2);
        let eval_top = |k: usize| report.top_k.iter().find(|t| t.k == k).unwrap().accuracy;
        assert_eq!(monitor.top1, eval_top(1));
        assert_eq!(monitor.top5, eval_top(5));
        assert_eq!(monitor.top10, eval_top(10));
        assert_eq!(monitor.mean_rank, report.mean_rank);
        // The tie rule itself: queries 0, 1, 2 tie with rows 0-3 and rank 1, 2, 3.
        let ranks = partner_ranks(&q, &g, 2);
        assert_eq!(&ranks[..3], &[1, 2, 3]);
        assert_eq!(ranks, vec![1, 2, 3, 6, 1, 6]);
        assert_eq!(monitor.top1, 2.0 / 6.0);
    }

    #[test]
    fn normalizes() {
        let mut x = [3.0, 4.0, 0.0, 0.0];
        normalize_rows(&mut x, 2);
        assert_eq!(x, [0.6, 0.8, 0.0, 0.0]);
    }
}
