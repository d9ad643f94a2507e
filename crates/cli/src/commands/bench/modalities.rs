//! `multimat bench modalities`: CHGCAR parse + resample throughput beside a naive std-parse
//! baseline, and derived promolecular densities per second.

use std::path::PathBuf;
use std::time::Instant;

use anyhow::Context;
use rayon::prelude::*;

use super::structures::load_structures;

#[derive(clap::Args)]
pub struct ModalitiesArgs {
    /// Folder of CHGCAR-like files (.gz accepted).
    #[arg(long, default_value = "data/raw/chgcar")]
    pub chgcars: PathBuf,
    /// Structures for the derived-density benchmark (same formats as `bench graphs`).
    #[arg(
        long,
        default_value = "data/raw/structures/crystaltoolkit_matbench_dielectric_4764.json.gz"
    )]
    pub structures: PathBuf,
    /// Number of structures for the derived-density benchmark.
    #[arg(long, default_value_t = 64)]
    pub n: usize,
}

pub fn run(args: ModalitiesArgs) -> anyhow::Result<()> {
    use multimat_modalities::charge_density::{self, Resample, MODEL_GRID};

    let mut files: Vec<PathBuf> = std::fs::read_dir(&args.chgcars)
        .with_context(|| format!("reading {}", args.chgcars.display()))?
        .filter_map(|e| e.ok().map(|e| e.path()))
        .filter(|p| {
            p.file_name()
                .is_some_and(|n| n.to_string_lossy().contains("CHGCAR"))
        })
        .collect();
    files.sort();
    anyhow::ensure!(
        !files.is_empty(),
        "no CHGCAR files in {}",
        args.chgcars.display()
    );
    let (mut bytes, mut ours_s, mut naive_s, mut resample_s) = (0usize, 0.0, 0.0, 0.0);
    for path in &files {
        let name = path.display().to_string();
        let text = multimat_crystal::io::read_text(path)?;
        bytes += text.len();
        let t = Instant::now();
        let v = charge_density::parse_volumetric(&text, &name)?;
        ours_s += t.elapsed().as_secs_f64();
        let t = Instant::now();
        std::hint::black_box(charge_density::model_input(&v, Resample::Fourier)?);
        resample_s += t.elapsed().as_secs_f64();
        // Baseline: the standard library's float parser on every token (what a quick script
        // would do), which reads the same numbers without validating the layout.
        let t = Instant::now();
        let parsed: usize = text
            .split_ascii_whitespace()
            .filter_map(|w| w.parse::<f64>().ok())
            .count();
        naive_s += t.elapsed().as_secs_f64();
        std::hint::black_box(parsed);
    }
    let mb = bytes as f64 / 1e6;
    println!(
        "CHGCAR parse: {:.0} MB/s over {} files ({:.1} MB); naive std-parse baseline {:.0} MB/s → {:.2}× the baseline",
        mb / ours_s,
        files.len(),
        mb,
        mb / naive_s,
        naive_s / ours_s
    );
    println!(
        "parse + Fourier resample to 32³: {:.0} MB/s ({:.1} ms of resampling per file)",
        mb / (ours_s + resample_s),
        resample_s * 1e3 / files.len() as f64
    );

    let structures = load_structures(&args.structures, args.n)?;
    let t = Instant::now();
    for (_, s) in structures.iter().take(8) {
        std::hint::black_box(charge_density::promolecular(s, [MODEL_GRID; 3])?);
    }
    let serial = 8.min(structures.len()) as f64 / t.elapsed().as_secs_f64();
    let t = Instant::now();
    let n_ok = structures
        .par_iter()
        .map(|(_, s)| charge_density::promolecular(s, [MODEL_GRID; 3]).is_ok() as usize)
        .sum::<usize>();
    let parallel = structures.len() as f64 / t.elapsed().as_secs_f64();
    println!(
        "derived promolecular density at 32³: {serial:.1} grids/s on 1 core, {parallel:.1} grids/s on {} threads ({:.2}× the 1-core baseline; {n_ok}/{} built)",
        rayon::current_num_threads(),
        parallel / serial,
        structures.len()
    );
    Ok(())
}
