//! `multimat bench search`: exact cosine top-k over a large gallery (blocked matrix products +
//! bounded heaps) against the naive per-pair scan, measured in the same run.

use std::time::Instant;

use multimat_dataset::SplitMix64;
use multimat_eval::search::{naive_top_k, top_k};

#[derive(clap::Args, Debug)]
pub struct Args {
    /// Gallery size (materials).
    #[arg(long, default_value_t = 1_000_000)]
    pub gallery: usize,
    /// Embedding width.
    #[arg(long, default_value_t = 128)]
    pub dim: usize,
    /// Queries for the blocked search.
    #[arg(long, default_value_t = 256)]
    pub queries: usize,
    /// Queries for the naive baseline (extrapolated per query; it is slow).
    #[arg(long, default_value_t = 4)]
    pub naive_queries: usize,
    /// Neighbours per query.
    #[arg(long, default_value_t = 25)]
    pub k: usize,
}

fn unit_rows(n: usize, d: usize, rng: &mut SplitMix64) -> Vec<f32> {
    let mut v: Vec<f32> = (0..n * d)
        .map(|_| (rng.next_u64() >> 40) as f32 / (1u64 << 24) as f32 - 0.5)
        .collect();
    for row in v.chunks_mut(d) {
        let norm = row.iter().map(|x| x * x).sum::<f32>().sqrt().max(1e-12);
        row.iter_mut().for_each(|x| *x /= norm);
    }
    v
}

pub fn run(args: Args) -> anyhow::Result<()> {
    let mut rng = SplitMix64::new(7);
    let (n, d) = (args.gallery, args.dim);
    eprintln!(
        "random unit gallery {n} × {d} (f32, {:.0} MiB)",
        (n * d * 4) as f64 / 1048576.0
    );
    let gallery = unit_rows(n, d, &mut rng);
    let queries = unit_rows(args.queries.max(args.naive_queries), d, &mut rng);

    let t = Instant::now();
    let blocked = top_k(&queries[..args.queries * d], &gallery, d, args.k)?;
    let blocked_s = t.elapsed().as_secs_f64();
    let t = Instant::now();
    let naive = naive_top_k(&queries[..args.naive_queries * d], &gallery, d, args.k)?;
    let naive_s = t.elapsed().as_secs_f64();
    // Both are exact: the first queries' neighbours must agree.
    let agree = (0..args.naive_queries.min(args.queries))
        .all(|q| blocked.indices_of(q) == naive.indices_of(q));

    let qps = args.queries as f64 / blocked_s;
    let naive_qps = args.naive_queries as f64 / naive_s;
    let report = serde_json::json!({
        "gallery": n, "dim": d, "k": args.k,
        "blocked": {"queries": args.queries, "seconds": blocked_s, "queries_per_s": qps,
                    "gflops": 2.0 * (args.queries * n * d) as f64 / blocked_s / 1e9},
        "naive_baseline": {"queries": args.naive_queries, "seconds": naive_s, "queries_per_s": naive_qps,
                           "note": "per-pair scan of every gallery row; measured on fewer queries and reported per query"},
        "speedup": qps / naive_qps,
        "same_neighbours": agree,
        "peak_rss_mib": crate::commands::peak_rss_mib(),
        "threads": rayon::current_num_threads(),
    });
    println!("{}", serde_json::to_string_pretty(&report)?);
    if !agree {
        anyhow::bail!("the blocked and naive searches disagree");
    }
    Ok(())
}
