//! Throughput check at a scale where shards and commits matter:
//! `cargo run --release -p multimat-dataset --example bench_store -- DIR N [COMMIT_EVERY]`
//! writes N synthetic materials with a 32³ f32 density (every material but each 5th), a 2×601
//! DOS (every 2nd) and a 768-d f16 text row, committing every COMMIT_EVERY (default 500), then
//! reopens the store and times random row reads, structure reads and collation.

use std::time::Instant;

use multimat_crystal::{Lattice, Site, Structure};
use multimat_dataset::*;

fn main() -> Result<(), Box<dyn std::error::Error>> {
    let args: Vec<String> = std::env::args().collect();
    if args.len() < 3 {
        return Err("usage: bench_store DIR N [COMMIT_EVERY]".into());
    }
    let dir = std::path::PathBuf::from(&args[1]);
    let n: usize = args[2].parse()?;
    let every: usize = args.get(3).map(|s| s.parse()).transpose()?.unwrap_or(500);
    let _ = std::fs::remove_dir_all(&dir);

    let t = Instant::now();
    let mut w = StoreWriter::create(&dir)?;
    w.register_modality("density", vec![1, 32, 32, 32], Dtype::F32)?;
    w.register_modality("dos", vec![2, 601], Dtype::F32)?;
    w.register_modality("text", vec![768], Dtype::F16)?;
    let lattice = Lattice::from_parameters(5.0, 5.5, 6.0, 90.0, 95.0, 90.0)?;
    for i in 0..n {
        let sites = (0..16)
            .map(|k| {
                Site::ordered(
                    1 + (k as u8 * 7 + i as u8) % 80,
                    [k as f64 / 16.0, 0.1 * (k % 3) as f64, 0.5],
                )
            })
            .collect();
        let mut r = MaterialRecord::new(format!("mp-{i}"), "mp", Structure::new(lattice, sites));
        r.labels.insert("band_gap".into(), (i % 7) as f64 * 0.3);
        if i % 5 != 0 {
            r.modalities.push((
                "density".into(),
                (0..32768).map(|k| ((i + k) % 97) as f32 * 0.01).collect(),
                false,
            ));
        }
        if i % 2 == 0 {
            r.modalities.push((
                "dos".into(),
                (0..1202).map(|k| ((i * k) % 13) as f32).collect(),
                false,
            ));
        }
        r.modalities.push((
            "text".into(),
            (0..768).map(|k| ((i + k) % 11) as f32 * 0.1).collect(),
            false,
        ));
        w.add_material(r)?;
        if (i + 1) % every == 0 {
            w.commit()?;
        }
    }
    w.commit()?;
    let write_s = t.elapsed().as_secs_f64();
    let bytes: u64 = walk(&dir);
    println!(
        "wrote {n} materials in {write_s:.2} s ({:.0} materials/s, {:.1} MB/s), store {:.1} MB",
        n as f64 / write_s,
        bytes as f64 / 1e6 / write_s,
        bytes as f64 / 1e6
    );
    let table_mb = std::fs::metadata(dir.join("materials.parquet"))?.len() as f64 / 1e6;
    println!(
        "materials.parquet {table_mb:.2} MB ({:.0} bytes/material)",
        table_mb * 1e6 / n as f64
    );

    let t = Instant::now();
    let store = Store::open(&dir)?;
    println!("open: {:.1} ms", t.elapsed().as_secs_f64() * 1e3);
    let inf = info(&store)?;
    println!("info: {}", serde_json::to_string(&inf.combinations)?);

    let dens = store.modality("density").ok_or("no density")?;
    let mut rng = SplitMix64::new(1);
    let t = Instant::now();
    let reps = 2000;
    let mut acc = 0f32;
    for _ in 0..reps {
        acc += dens.row(rng.below(dens.len()))?[5];
    }
    println!(
        "random density row (128 KiB): {:.1} µs each (checksum {acc})",
        t.elapsed().as_secs_f64() * 1e6 / reps as f64
    );

    let t = Instant::now();
    for _ in 0..200 {
        store.material(rng.below(store.len()))?;
    }
    println!(
        "random material() incl. structure parse: {:.2} ms each",
        t.elapsed().as_secs_f64() * 1e3 / 200.0
    );

    let epoch = batches(&(0..store.len()).collect::<Vec<_>>(), 64, 0, 0, true);
    let t = Instant::now();
    for b in epoch.iter().take(20) {
        collate(&store, b, &["density", "dos", "text"])?;
    }
    println!(
        "collate B=64 density+dos+text: {:.2} ms per batch",
        t.elapsed().as_secs_f64() * 1e3 / 20.0
    );
    Ok(())
}

fn walk(p: &std::path::Path) -> u64 {
    std::fs::read_dir(p)
        .map(|rd| {
            rd.flatten()
                .map(|e| {
                    let path = e.path();
                    if path.is_dir() {
                        walk(&path)
                    } else {
                        e.metadata().map(|m| m.len()).unwrap_or(0)
                    }
                })
                .sum()
        })
        .unwrap_or(0)
}
