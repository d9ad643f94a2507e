//! Search, retrieval and discovery metrics: hand-computed small cases, and fixtures computed
//! with numpy by tools/fixtures/eval_expected.py.

use std::collections::HashMap;
use std::path::PathBuf;

use multimat_eval::discovery::{self, DiscoveryConfig, Dos};
use multimat_eval::retrieval;
use multimat_eval::search;
use multimat_eval::{Embeddings, ErrorKind};
use serde_json::Value;

fn fixture(name: &str) -> Value {
    let path = PathBuf::from(env!("CARGO_MANIFEST_DIR"))
        .join("../../fixtures/eval")
        .join(name);
    serde_json::from_str(&std::fs::read_to_string(&path).unwrap()).unwrap()
}

fn floats(v: &Value) -> Vec<f64> {
    v.as_array()
        .unwrap()
        .iter()
        .map(|x| x.as_f64().unwrap())
        .collect()
}

fn strings(v: &Value) -> Vec<String> {
    v.as_array()
        .unwrap()
        .iter()
        .map(|x| x.as_str().unwrap().to_string())
        .collect()
}

fn emb(ids: &[&str], modality: &str, dim: usize, values: &[f32]) -> Embeddings {
    Embeddings::new(
        ids.iter().map(|s| s.to_string()).collect(),
        modality,
        dim,
        values.to_vec(),
        "test",
    )
    .unwrap()
}

/// A deterministic pseudo-random f32 stream in [-1, 1).
fn noise(seed: u64, n: usize) -> Vec<f32> {
    let mut rng = multimat_dataset::SplitMix64::new(seed);
    (0..n)
        .map(|_| (rng.next_u64() >> 40) as f32 / (1u64 << 23) as f32 - 1.0)
        .collect()
}

#[test]
fn retrieval_by_hand() {
    // q0·g = (0, 1, .707) → partner g0 ranks 3; q1 → (1, 0, .707) → 3; q2 → (.707, .707, 1) → 1.
    let q = emb(&["a", "b", "c"], "dos", 2, &[1.0, 0.0, 0.0, 1.0, 1.0, 1.0]);
    let g = emb(
        &["a", "b", "c"],
        "crystal",
        2,
        &[0.0, 1.0, 1.0, 0.0, 1.0, 1.0],
    );
    let d = retrieval::evaluate_detailed(&q, &g).unwrap();
    assert_eq!(d.ranks, vec![3, 3, 1]);
    let r = d.report;
    assert_eq!(
        (r.n, r.query_modality.as_str(), r.gallery_modality.as_str()),
        (3, "dos", "crystal")
    );
    let acc: Vec<(usize, f64, f64)> = r
        .top_k
        .iter()
        .map(|t| (t.k, t.accuracy, t.chance))
        .collect();
    assert_eq!(acc[0], (1, 1.0 / 3.0, 1.0 / 3.0));
    // k ≥ N: everything is found, and so by chance.
    assert_eq!(acc[1], (5, 1.0, 1.0));
    assert!((r.mean_rank - 7.0 / 3.0).abs() < 1e-12);
    assert_eq!(r.median_rank, 3.0);
    assert_eq!(r.chance_mean_rank, 2.0);
}

#[test]
fn retrieval_ties_rank_by_gallery_index() {
    // Both gallery rows are identical: the first wins the tie.
    let q = emb(&["a", "b"], "dos", 2, &[1.0, 0.0, 1.0, 0.0]);
    let g = emb(&["a", "b"], "crystal", 2, &[2.0, 0.0, 1.0, 0.0]);
    assert_eq!(
        retrieval::evaluate_detailed(&q, &g).unwrap().ranks,
        vec![1, 2]
    );
    // Median of an even count is the mean of the middle two (numpy).
    let r = retrieval::report_from_ranks(&[1, 2, 4, 9], "a", "b", 0, 0);
    assert_eq!(r.median_rank, 3.0);
    assert_eq!(r.mean_rank, 4.0);
    assert_eq!(r.top_k[1].accuracy, 0.75);
}

#[test]
fn retrieval_matches_numpy_and_matches_ids() {
    let f = fixture("retrieval.json");
    let ids = strings(&f["ids"]);
    let dim = f["dim"].as_u64().unwrap() as usize;
    let to32 = |v: &Value| floats(v).iter().map(|&x| x as f32).collect::<Vec<_>>();
    let q = Embeddings::new(ids.clone(), "dos", dim, to32(&f["query"]), "q").unwrap();
    // Gallery in reverse order plus one id the queries lack: matching must be by id.
    let gv = to32(&f["gallery"]);
    let mut gids: Vec<String> = ids.iter().rev().cloned().collect();
    let mut gvals: Vec<f32> = (0..ids.len())
        .rev()
        .flat_map(|i| gv[i * dim..(i + 1) * dim].to_vec())
        .collect();
    gids.push("extra".into());
    gvals.extend(vec![0.5; dim]);
    let g = Embeddings::new(gids, "crystal", dim, gvals, "g").unwrap();
    let d = retrieval::evaluate_detailed(&q, &g).unwrap();
    let expect: Vec<usize> = f["ranks"]
        .as_array()
        .unwrap()
        .iter()
        .map(|v| v.as_u64().unwrap() as usize)
        .collect();
    assert_eq!(d.ranks, expect);
    assert_eq!(d.report.unmatched_gallery, 1);
    assert_eq!(d.report.unmatched_queries, 0);
    for t in &d.report.top_k {
        assert_eq!(
            t.accuracy,
            f["top_k"][t.k.to_string()].as_f64().unwrap(),
            "top-{}",
            t.k
        );
    }
    assert_eq!(d.report.mean_rank, f["mean_rank"].as_f64().unwrap());
    assert_eq!(d.report.median_rank, f["median_rank"].as_f64().unwrap());
    // All ordered pairs of three modalities: 6 reports.
    let all =
        retrieval::evaluate_all(&[q.clone(), g.clone(), q.select(&ids[..10]).unwrap()]).unwrap();
    assert_eq!(all.len(), 6);
}

#[test]
fn retrieval_errors_name_the_problem() {
    let q = emb(&["a"], "dos", 2, &[1.0, 0.0]);
    let g = emb(&["b"], "crystal", 2, &[1.0, 0.0]);
    let e = retrieval::evaluate(&q, &g).unwrap_err();
    assert!(e.to_string().contains("share no material id"), "{e}");
    let g3 = emb(&["a"], "crystal", 3, &[1.0, 0.0, 0.0]);
    assert!(matches!(
        retrieval::evaluate(&q, &g3).unwrap_err().kind,
        ErrorKind::Shape(_)
    ));
}

#[test]
fn blocked_top_k_equals_naive_search() {
    let dim = 17;
    // Enough gallery rows for several blocks and a split over gallery ranges.
    let n = 5 * search::GALLERY_BLOCK + 123;
    let mut gallery = noise(1, n * dim);
    // Exact duplicates create ties that must resolve by index.
    for r in [10usize, 2000, 4500] {
        let src = gallery[3 * dim..4 * dim].to_vec();
        gallery[r * dim..(r + 1) * dim].copy_from_slice(&src);
    }
    let mut queries = noise(2, 300 * dim);
    queries[..dim].copy_from_slice(&gallery[3 * dim..4 * dim]);
    let fast = search::top_k(&queries, &gallery, dim, 25).unwrap();
    let slow = search::naive_top_k(&queries, &gallery, dim, 25).unwrap();
    assert_eq!(fast.k, 25);
    // Scores may differ in the last bits (different summation order); indices must agree
    // wherever the naive scores are not within rounding of each other.
    for q in 0..300 {
        let (fi, si) = (fast.indices_of(q), slow.indices_of(q));
        for (a, (b, (&fs, &ss))) in fi.iter().zip(
            si.iter()
                .zip(fast.scores_of(q).iter().zip(slow.scores_of(q))),
        ) {
            assert!((fs - ss).abs() < 1e-4, "query {q}: {fs} vs {ss}");
            if a != b {
                let sa = slow.scores_of(q)[si.iter().position(|x| x == a).unwrap_or(0)];
                assert!((sa - ss).abs() < 1e-5, "query {q}: {a} vs {b}");
            }
        }
        assert!(fast.scores_of(q).windows(2).all(|w| w[0] >= w[1]));
    }
    // Query 0 is gallery row 3: its duplicates follow it in index order.
    assert_eq!(&fast.indices_of(0)[..4], &[3, 10, 2000, 4500]);
    // k beyond the gallery keeps all rows.
    let small = search::top_k(&queries[..dim], &gallery[..5 * dim], dim, 25).unwrap();
    assert_eq!(small.k, 5);
    assert!(search::top_k(&queries, &gallery, dim, 0).is_err());
    assert!(search::top_k(&queries[..dim + 1], &gallery, dim, 3).is_err());
}

#[test]
fn ranks_of_equals_brute_force() {
    let dim = 9;
    let n = 2 * search::GALLERY_BLOCK + 77;
    let mut gallery = noise(3, n * dim);
    let dup = gallery[5 * dim..6 * dim].to_vec();
    gallery[1500 * dim..1501 * dim].copy_from_slice(&dup);
    let queries = noise(4, 200 * dim);
    let targets: Vec<usize> = (0..200).map(|q| (q * 37) % n).chain([]).collect();
    let mut targets = targets;
    targets[0] = 1500; // tied with row 5, which comes first
    let mut queries = queries;
    queries[..dim].copy_from_slice(&dup);
    let ranks = search::ranks_of(&queries, &gallery, dim, &targets).unwrap();
    let full = search::naive_top_k(&queries, &gallery, dim, n).unwrap();
    for q in 0..200 {
        let pos = full
            .indices_of(q)
            .iter()
            .position(|&i| i as usize == targets[q])
            .unwrap()
            + 1;
        let ts = full.scores_of(q)[pos - 1];
        // Equal up to rounding-level near-ties.
        let near = full
            .scores_of(q)
            .iter()
            .filter(|&&s| (s - ts).abs() < 1e-5)
            .count();
        assert!(
            ranks[q].abs_diff(pos) < near.max(1),
            "query {q}: {} vs {pos}",
            ranks[q]
        );
    }
    // Query 0's target (row 1500) ties with row 5, which ranks first.
    let pos5 = full.indices_of(0).iter().position(|&i| i == 5).unwrap() + 1;
    assert_eq!(ranks[0], pos5 + 1);
}

#[test]
fn interp_and_trapz_match_numpy() {
    let f = fixture("discovery.json");
    let i = &f["interp"];
    let y = discovery::interp(&floats(&i["x"]), &floats(&i["xp"]), &floats(&i["fp"]));
    for (a, b) in y.iter().zip(floats(&i["y"])) {
        assert!((a - b).abs() < 1e-12, "{a} vs {b}");
    }
    assert!(
        (discovery::trapz(&floats(&i["fp"]), &floats(&i["xp"])) - i["trapz"].as_f64().unwrap())
            .abs()
            < 1e-12
    );
    assert_eq!(
        discovery::linspace(-5.0, 5.0, 5),
        vec![-5.0, -2.5, 0.0, 2.5, 5.0]
    );
}

#[test]
fn nmae_by_hand() {
    let grid = discovery::linspace(-5.0, 5.0, 11);
    // Target 1 states/eV everywhere; candidate only known on [-2, 2] with 0.5 there and the
    // ends clamped: |1 − 0.5| over the whole window → nMAE 0.5.
    let cand = Dos::new(vec![-2.0, 2.0], vec![0.5, 0.5], "c").unwrap();
    let c = discovery::interp(&grid, &cand.energies, &cand.values);
    let t = vec![1.0; 11];
    assert!((discovery::nmae(&t, &c, &grid).unwrap() - 0.5).abs() < 1e-12);
    // A ramp candidate clamped at 0 below −1 and 2 above 1 (so 2 on [1, 5]):
    // ∫|1 − ρ| = 4·1 (−5..−1) + ∫_{−1}^{1}|1−(x+1)| = 1 + 4·1 (1..5) → 9 / 10.
    let ramp = Dos::new(vec![-1.0, 1.0], vec![0.0, 2.0], "r").unwrap();
    let grid_fine = discovery::linspace(-5.0, 5.0, 1001);
    let c = discovery::interp(&grid_fine, &ramp.energies, &ramp.values);
    let t = vec![1.0; 1001];
    assert!((discovery::nmae(&t, &c, &grid_fine).unwrap() - 0.9).abs() < 1e-9);
    // Zero-area target: skipped.
    assert_eq!(discovery::nmae(&[0.0; 11], &[1.0; 11], &grid), None);
    // Grid size: ⌊mean points inside the window⌋ = ⌊(3 + 2) / 2⌋ = 2.
    let a = Dos::new(vec![-9.0, -5.0, 0.0, 5.0, 9.0], vec![1.0; 5], "a").unwrap();
    let b = Dos::new(vec![-4.0, 4.0, 6.0], vec![1.0; 3], "b").unwrap();
    assert_eq!(discovery::grid_size([&a, &b], (-5.0, 5.0)), 2);
}

#[test]
fn dos_input_is_checked() {
    let e = Dos::new(vec![0.0, -1.0], vec![1.0, 1.0], "mp-1 dos").unwrap_err();
    assert!(e.to_string().contains("mp-1 dos: point 1"), "{e}");
    assert!(Dos::new(vec![0.0, f64::NAN], vec![1.0, 1.0], "x").is_err());
    assert!(Dos::new(vec![0.0], vec![1.0, 1.0], "x").is_err());
    let d = Dos::from_model_input(&[-1.0, 0.0, 1.0, 0.1, 0.2, 0.3], "row").unwrap();
    assert_eq!(d.energies, vec![-1.0, 0.0, 1.0]);
    assert!(Dos::from_model_input(&[1.0, 2.0, 3.0], "row").is_err());
}

#[test]
fn discovery_curve_matches_numpy() {
    let f = fixture("discovery.json");
    let mut dos = HashMap::new();
    for (id, d) in f["dos"].as_object().unwrap() {
        dos.insert(
            id.clone(),
            Dos::new(floats(&d["energies"]), floats(&d["values"]), id).unwrap(),
        );
    }
    let dim = f["dim"].as_u64().unwrap() as usize;
    let mk = |v: &Value, m: &str| {
        Embeddings::new(
            strings(&v["ids"]),
            m,
            dim,
            floats(&v["values"]).iter().map(|&x| x as f32).collect(),
            m,
        )
        .unwrap()
    };
    let targets = mk(&f["targets"], "dos");
    let candidates = mk(&f["candidates"], "crystal");
    let config = DiscoveryConfig::default();
    let (report, per) = discovery::evaluate_detailed(&targets, &candidates, &dos, &config).unwrap();
    assert_eq!(
        report.grid_points,
        f["grid_points"].as_u64().unwrap() as usize
    );
    assert_eq!(report.targets, f["scored"].as_u64().unwrap() as usize);
    assert_eq!(report.skipped_zero_area, 1);
    assert_eq!(report.skipped_no_dos, 1);
    assert_eq!(report.candidates, candidates.len());
    let curve = floats(&f["curve"]);
    assert_eq!(report.curve.len(), 15);
    for (p, e) in report.curve.iter().zip(&curve) {
        assert!(
            (p.model - e).abs() < 1e-9,
            "N = {}: {} vs {e}",
            p.n,
            p.model
        );
    }
    for t in &per {
        let exp = &f["per_target"][&t.id];
        let ids: Vec<&str> = t.neighbours.iter().map(|n| n.0.as_str()).collect();
        assert_eq!(
            ids,
            strings(&exp["neighbours"])
                .iter()
                .map(|s| s.as_str())
                .collect::<Vec<_>>()
        );
        let nm = floats(&exp["nmae"]);
        for (got, want) in t.neighbours.iter().map(|n| n.2).zip(&nm) {
            assert!((got - want).abs() < 1e-9);
        }
        // Random baseline: finite, non-increasing best-of-N.
        assert_eq!(t.random_best_of.len(), 15);
        assert!(t.random_best_of.iter().all(|v| v.is_finite() && *v >= 0.0));
        assert!(t.random_best_of.windows(2).all(|w| w[1] <= w[0]));
    }
    // Same seed, same baseline; another seed, another.
    let again = discovery::evaluate(&targets, &candidates, &dos, &config).unwrap();
    assert_eq!(again, report);
    let other = discovery::evaluate(
        &targets,
        &candidates,
        &dos,
        &DiscoveryConfig {
            seed: 7,
            ..config.clone()
        },
    )
    .unwrap();
    assert_ne!(
        other.curve.iter().map(|p| p.random).collect::<Vec<_>>(),
        report.curve.iter().map(|p| p.random).collect::<Vec<_>>()
    );
    // A target that is itself a candidate never finds itself.
    let both = targets.select(&["mp-2000".to_string()]).unwrap();
    let mut pool_ids = candidates.ids.clone();
    pool_ids.push("mp-2000".into());
    let mut pool_vals = candidates.values.clone();
    pool_vals.extend_from_slice(both.row(0));
    let pool = Embeddings::new(pool_ids, "crystal", dim, pool_vals, "pool").unwrap();
    let (_, per) = discovery::evaluate_detailed(&both, &pool, &dos, &config).unwrap();
    assert!(per[0].neighbours.iter().all(|n| n.0 != "mp-2000"));
    assert_eq!(per[0].neighbours.len(), 25);
}

#[test]
fn discover_nearest_candidates() {
    let c = emb(
        &["x", "y", "z"],
        "crystal",
        2,
        &[1.0, 0.0, 0.0, 1.0, 0.6, 0.8],
    );
    let n = discovery::nearest(&[0.0, 2.0], &c, 2).unwrap();
    assert_eq!(
        n.iter().map(|n| n.id.as_str()).collect::<Vec<_>>(),
        vec!["y", "z"]
    );
    assert!((n[0].similarity - 1.0).abs() < 1e-6 && (n[1].similarity - 0.8).abs() < 1e-6);
}
