//! `multimat bench encoders`: training-step throughput (forward + backward) of every encoder on
//! the CPU, on real inputs, with the achieved GFLOP/s set against two peaks measured or read in
//! the same run:
//!
//! * the **practical peak**: the best GFLOP/s of a large square f32 matrix product through the
//!   same burn backend and thread pool (what a perfectly matmul-bound model could reach);
//! * the **theoretical peak**: physical cores × clock × f32 FLOPs per cycle per core, from
//!   `/proc/cpuinfo` and the SIMD flags ([`CpuPeak`] documents the assumptions).
//!
//! FLOPs are the analytic forward counts of `multimat_model::flops` times 3 (backward ≈ 2 ×
//! forward). Each encoder is timed after `--warmup` steps; without `--steps`, the number of
//! timed steps is chosen from the warm-up time so that each encoder takes about `--budget-s`
//! seconds (at least 2 steps), which keeps the default run near 2–3 minutes on 2 cores.

use std::path::{Path, PathBuf};
use std::time::Instant;

use anyhow::{bail, ensure, Context};
use burn::tensor::{Device, Distribution, Tensor, TensorData};
use multimat_crystal::Structure;
use multimat_model::encoders::cgcnn::CgcnnInput;
use multimat_model::encoders::potnet::PotNetInput;
use multimat_model::flops::{self, GraphBatchSize, TRAIN_STEP_FACTOR};
use multimat_model::{trainable_params, Preset};
use serde_json::{json, Value};

use super::peaks::{matmul_peak, sync, sysfs_max_ghz, CpuPeak};
use super::structures::load_structures;

/// The encoders that can be benchmarked.
#[derive(clap::ValueEnum, Clone, Copy, Debug, PartialEq, Eq)]
pub enum EncoderKind {
    /// PotNet crystal encoder on real structures.
    Potnet,
    /// CGCNN crystal encoder on real structures.
    Cgcnn,
    /// DOS Transformer on real 601-point spectra.
    Dos,
    /// 3-D ResNeXt on real charge densities resampled to 32³.
    Density,
    /// Text MLP on random 768-d (paper) vectors.
    Text,
}

impl EncoderKind {
    fn name(self) -> &'static str {
        match self {
            Self::Potnet => "potnet",
            Self::Cgcnn => "cgcnn",
            Self::Dos => "dos",
            Self::Density => "density",
            Self::Text => "text",
        }
    }

    /// Batch used when `--batch` is not given: large enough for the products to be efficient,
    /// small enough that the slow encoders (DOS ≈ 1 s per spectrum, ResNeXt ≈ 0.25 s per grid
    /// at the paper size) finish a few steps in the budget.
    fn default_batch(self) -> usize {
        match self {
            Self::Potnet => 16,
            Self::Cgcnn => 64,
            Self::Dos => 8,
            Self::Density => 4,
            Self::Text => 128,
        }
    }
}

#[derive(clap::Args)]
pub struct Args {
    /// Model sizes: `paper` or `small`, the presets pretraining and fine-tuning use.
    #[arg(long, default_value = "paper", value_parser = str::parse::<Preset>)]
    preset: Preset,
    /// Encoders to run, comma-separated.
    #[arg(
        long,
        value_enum,
        value_delimiter = ',',
        default_value = "potnet,cgcnn,dos,density,text"
    )]
    encoders: Vec<EncoderKind>,
    /// Materials per step for every encoder (default: potnet 16, cgcnn 64, dos 8, density 4,
    /// text 128). The density encoder needs at least 2 (training-mode BatchNorm).
    #[arg(long)]
    batch: Option<usize>,
    /// Timed steps per encoder (default: as many as fit in --budget-s, at least 2).
    #[arg(long)]
    steps: Option<usize>,
    /// Untimed warm-up steps per encoder.
    #[arg(long, default_value_t = 1)]
    warmup: usize,
    /// Seconds of timed steps per encoder when --steps is not given.
    #[arg(long, default_value_t = 20.0)]
    budget_s: f64,
    /// Worker threads (default: rayon's, one per logical CPU).
    #[arg(long)]
    threads: Option<usize>,
    /// Side of the square f32 matrix product that measures the practical peak.
    #[arg(long, default_value_t = 1024)]
    matmul_size: usize,
    /// Structures for PotNet and CGCNN (same formats as `bench graphs`).
    #[arg(
        long,
        default_value = "data/raw/structures/crystaltoolkit_matbench_dielectric_4764.json.gz"
    )]
    structures: PathBuf,
    /// DOS input: a folder of DOS files (pymatgen JSON, vasprun.xml, DOSCAR), one such file, or
    /// the phonon-DOS CSV table. Spectra are reused in turn when there are fewer than the batch.
    #[arg(long, default_value = "data/raw/dos/electronic")]
    dos: PathBuf,
    /// Folder of charge-density files (CHGCAR-like, cube, MP JSON; LOCPOT and ELFCAR are
    /// skipped). Grids are reused in turn when there are fewer than the batch.
    #[arg(long, default_value = "data/raw/chgcar")]
    chgcars: PathBuf,
    /// Write the results as JSON here as well.
    #[arg(long)]
    json: Option<PathBuf>,
}

pub fn run(args: Args) -> anyhow::Result<()> {
    ensure!(
        args.warmup >= 1,
        "--warmup must be at least 1: the first step allocates"
    );
    ensure!(
        args.steps != Some(0),
        "--steps must be at least 1 (leave it out to fit --budget-s)"
    );
    ensure!(args.batch != Some(0), "--batch must be at least 1");
    ensure!(
        args.budget_s.is_finite() && args.budget_s > 0.0,
        "--budget-s must be a positive number of seconds, found {}",
        args.budget_s
    );
    ensure!(args.matmul_size >= 1, "--matmul-size must be at least 1");
    match args.threads {
        Some(0) => bail!("--threads must be at least 1"),
        Some(n) => {
            let pool = rayon::ThreadPoolBuilder::new()
                .num_threads(n)
                .build()
                .context("building the thread pool")?;
            pool.install(|| bench(&args))
        }
        None => bench(&args),
    }
}

/// One encoder's measurement.
struct Measurement {
    encoder: &'static str,
    params: usize,
    batch: usize,
    input: String,
    forward_flops: f64,
    step_s: Vec<f64>,
}

impl Measurement {
    fn mean_step_s(&self) -> f64 {
        self.step_s.iter().sum::<f64>() / self.step_s.len() as f64
    }

    fn materials_per_s(&self) -> f64 {
        self.batch as f64 / self.mean_step_s()
    }

    /// Forward + backward FLOPs per second, GFLOP/s.
    fn gflops(&self) -> f64 {
        flops::train_step(self.forward_flops) / self.mean_step_s() / 1e9
    }
}

fn bench(args: &Args) -> anyhow::Result<()> {
    let threads = rayon::current_num_threads();
    let device = Device::flex();
    let cpu = match std::fs::read_to_string("/proc/cpuinfo") {
        Ok(text) => Some(CpuPeak::from_cpuinfo(&text, threads, sysfs_max_ghz())),
        Err(e) => {
            eprintln!("note: /proc/cpuinfo unreadable ({e}); no theoretical peak");
            None
        }
    };
    match &cpu {
        Some(c) => println!(
            "CPU: {} | {} of {} physical cores used × {:.2} GHz ({}) × {} f32 FLOP/cycle ({}) = {:.1} GFLOP/s theoretical",
            c.model, c.cores_used, c.physical_cores, c.ghz, c.ghz_source, c.flops_per_cycle, c.simd, c.gflops()
        ),
        None => println!("CPU: unknown; {threads} threads"),
    }
    let practical = matmul_peak(args.matmul_size, &device)?;
    println!(
        "practical peak: {:.1} GFLOP/s (best of {} f32 {n}×{n}×{n} matmuls in burn, {threads} threads)",
        practical.best_gflops,
        practical.reps,
        n = args.matmul_size
    );

    let ad = device.autodiff();
    let mut results = Vec::new();
    for &kind in &args.encoders {
        let m = match kind {
            EncoderKind::Potnet => bench_potnet(args, &ad)?,
            EncoderKind::Cgcnn => bench_cgcnn(args, &ad)?,
            EncoderKind::Dos => bench_dos(args, &ad)?,
            EncoderKind::Density => bench_density(args, &ad)?,
            EncoderKind::Text => bench_text(args, &ad)?,
        };
        results.push(m);
    }

    let theoretical = cpu.as_ref().map(CpuPeak::gflops);
    print_table(&results, practical.best_gflops, theoretical);
    println!(
        "FLOPs: analytic forward count (multiply-add = 2) × {TRAIN_STEP_FACTOR} for forward + backward (backward ≈ 2 × forward, an estimate)."
    );

    if let Some(path) = &args.json {
        let report = json!({
            "preset": format!("{:?}", args.preset).to_lowercase(),
            "threads": threads,
            "flop_convention": format!(
                "analytic forward FLOPs (multiply-add = 2, multimat_model::flops) × {TRAIN_STEP_FACTOR} for forward + backward"
            ),
            "practical_peak": {
                "method": format!("best of {} f32 {n}x{n}x{n} matmuls in burn (flex backend)", practical.reps, n = args.matmul_size),
                "gflops": practical.best_gflops,
                "median_gflops": practical.median_gflops,
            },
            "theoretical_peak": cpu.as_ref().map(CpuPeak::to_json),
            "encoders": results.iter().map(|m| measurement_json(m, practical.best_gflops, theoretical)).collect::<Vec<_>>(),
        });
        multimat_crystal::io::write_atomic(path, serde_json::to_string_pretty(&report)?.as_bytes())
            .with_context(|| format!("writing {}", path.display()))?;
        println!("wrote {}", path.display());
    }
    Ok(())
}

fn measurement_json(m: &Measurement, practical: f64, theoretical: Option<f64>) -> Value {
    let g = m.gflops();
    json!({
        "encoder": m.encoder,
        "params": m.params,
        "batch": m.batch,
        "input": m.input,
        "steps": m.step_s.len(),
        "step_s": m.step_s,
        "mean_step_s": m.mean_step_s(),
        "materials_per_s": m.materials_per_s(),
        "forward_gflop_per_batch": m.forward_flops / 1e9,
        "forward_gflop_per_material": m.forward_flops / 1e9 / m.batch as f64,
        "train_gflops": g,
        "fraction_of_practical_peak": g / practical,
        "fraction_of_theoretical_peak": theoretical.map(|t| g / t),
    })
}

fn print_table(results: &[Measurement], practical: f64, theoretical: Option<f64>) {
    println!();
    println!(
        "{:<8} {:>10} {:>6} {:>6} {:>9} {:>12} {:>13} {:>9} {:>8} {:>8}",
        "encoder",
        "params",
        "batch",
        "steps",
        "s/step",
        "materials/s",
        "fwd GFLOP/mat",
        "GFLOP/s",
        "% pract",
        "% theor"
    );
    for m in results {
        let g = m.gflops();
        let theor = theoretical
            .map(|t| format!("{:.1}", 100.0 * g / t))
            .unwrap_or_else(|| "-".into());
        println!(
            "{:<8} {:>10} {:>6} {:>6} {:>9.3} {:>12.2} {:>13.4} {:>9.2} {:>8.1} {:>8}",
            m.encoder,
            m.params,
            m.batch,
            m.step_s.len(),
            m.mean_step_s(),
            m.materials_per_s(),
            m.forward_flops / 1e9 / m.batch as f64,
            g,
            100.0 * g / practical,
            theor
        );
    }
    for m in results {
        println!("  {}: {}", m.encoder, m.input);
    }
    println!();
}

// ---------------------------------------------------------------------------------------------
// timing

/// Runs `args.warmup` untimed and then the timed steps of `step` (one forward + backward,
/// returning once the gradients exist). Returns the seconds of each timed step.
fn time_steps(
    args: &Args,
    name: &str,
    device: &Device,
    mut step: impl FnMut() -> anyhow::Result<()>,
) -> anyhow::Result<Vec<f64>> {
    let bar = crate::commands::progress_bar(args.warmup as u64, &format!("{name} warm-up"));
    let mut warm_s = f64::INFINITY;
    for _ in 0..args.warmup {
        let t = Instant::now();
        step()?;
        sync(device)?;
        warm_s = warm_s.min(t.elapsed().as_secs_f64());
        bar.inc(1);
    }
    bar.finish_and_clear();
    let steps = args
        .steps
        .unwrap_or_else(|| ((args.budget_s / warm_s).floor() as usize).clamp(2, 200));
    let bar = crate::commands::progress_bar(steps as u64, name);
    let mut times = Vec::with_capacity(steps);
    for _ in 0..steps {
        let t = Instant::now();
        step()?;
        sync(device)?;
        times.push(t.elapsed().as_secs_f64());
        bar.inc(1);
    }
    bar.finish_and_clear();
    Ok(times)
}

/// Forward, loss = sum of the outputs, backward; the gradients are dropped.
fn train_step(output: Tensor<2>) {
    let grads = output.sum().backward();
    drop(grads);
}

// ---------------------------------------------------------------------------------------------
// inputs and encoders

fn batch_of(args: &Args, kind: EncoderKind) -> usize {
    args.batch.unwrap_or_else(|| kind.default_batch())
}

/// The first `count` ordered structures of `path`, by reading a few times more than needed
/// (disordered entries are skipped).
fn ordered_structures(path: &Path, count: usize) -> anyhow::Result<Vec<(String, Structure)>> {
    let all = load_structures(path, count.saturating_mul(4).max(16))?;
    let ordered: Vec<_> = all
        .into_iter()
        .filter(|(_, s)| s.is_ordered())
        .take(count)
        .collect();
    ensure!(
        ordered.len() == count,
        "{}: only {} ordered structures among the first {}; need {count} for the batch",
        path.display(),
        ordered.len(),
        count.saturating_mul(4).max(16)
    );
    Ok(ordered)
}

fn bench_potnet(args: &Args, ad: &Device) -> anyhow::Result<Measurement> {
    let b = batch_of(args, EncoderKind::Potnet);
    let structures = ordered_structures(&args.structures, b)?;
    let gconfig = multimat_graphs::potnet::PotNetConfig::default();
    let graphs = structures
        .iter()
        .map(|(id, s)| {
            multimat_graphs::potnet::build(
                s,
                &format!("{}:{id}", args.structures.display()),
                &gconfig,
            )
        })
        .collect::<Result<Vec<_>, _>>()?;
    let views: Vec<_> = graphs.iter().map(|g| g.view()).collect();
    let input = PotNetInput::from_graphs(&views, ad)?;
    let size = GraphBatchSize {
        graphs: b,
        atoms: input.num_atoms(),
        local_edges: input.num_local_edges(),
        infinite_edges: input.num_infinite_edges(),
    };
    let config = args.preset.potnet();
    let model = config.init(ad);
    let step_s = time_steps(args, "potnet", ad, || {
        train_step(model.forward(&input));
        Ok(())
    })?;
    Ok(Measurement {
        encoder: EncoderKind::Potnet.name(),
        params: trainable_params(&model),
        batch: b,
        input: format!(
            "{b} structures of {} ({} atoms, {} local + {} infinite edges)",
            file_name(&args.structures),
            size.atoms,
            size.local_edges,
            size.infinite_edges
        ),
        forward_flops: flops::potnet_forward(&config, &size),
        step_s,
    })
}

fn bench_cgcnn(args: &Args, ad: &Device) -> anyhow::Result<Measurement> {
    let b = batch_of(args, EncoderKind::Cgcnn);
    let structures = ordered_structures(&args.structures, b)?;
    let gconfig = multimat_graphs::cgcnn::CgcnnConfig::default();
    let graphs = structures
        .iter()
        .map(|(id, s)| {
            multimat_graphs::cgcnn::build(
                s,
                &format!("{}:{id}", args.structures.display()),
                &gconfig,
            )
        })
        .collect::<Result<Vec<_>, _>>()?;
    let views: Vec<_> = graphs.iter().map(|g| g.view()).collect();
    let input = CgcnnInput::from_graphs(&views, ad)?;
    let atoms = graphs.iter().map(|g| g.num_sites).sum();
    let size = GraphBatchSize {
        graphs: b,
        atoms,
        ..Default::default()
    };
    let config = args.preset.cgcnn();
    let model = config.init(ad);
    let step_s = time_steps(args, "cgcnn", ad, || {
        train_step(model.forward(&input));
        Ok(())
    })?;
    Ok(Measurement {
        encoder: EncoderKind::Cgcnn.name(),
        params: trainable_params(&model),
        batch: b,
        input: format!(
            "{b} structures of {} ({atoms} atoms × {} neighbour slots)",
            file_name(&args.structures),
            input.max_neighbors()
        ),
        forward_flops: flops::cgcnn_forward(&config, &size, input.max_neighbors()),
        step_s,
    })
}

/// Reads the DOS source named by `--dos` into 601-point model inputs.
fn dos_inputs(path: &Path) -> anyhow::Result<Vec<(String, Vec<f32>)>> {
    use multimat_modalities::dos::{
        model_input, read_dos, read_phonondos_csv_file, DosInputOptions,
    };
    let opts = DosInputOptions::default();
    let name = path.display().to_string();
    let spectra: Vec<(String, multimat_modalities::dos::Dos)> = if path.is_dir() {
        let mut files: Vec<PathBuf> = std::fs::read_dir(path)
            .with_context(|| format!("reading {name}"))?
            .filter_map(|e| e.ok().map(|e| e.path()))
            .filter(|p| p.is_file())
            .collect();
        files.sort();
        files
            .iter()
            .map(|p| Ok((p.display().to_string(), read_dos(p)?)))
            .collect::<anyhow::Result<_>>()?
    } else if name.to_ascii_lowercase().contains(".csv") {
        read_phonondos_csv_file(path)?
    } else {
        vec![(name.clone(), read_dos(path)?)]
    };
    ensure!(!spectra.is_empty(), "{name}: no DOS found");
    spectra
        .iter()
        .map(|(id, dos)| Ok((id.clone(), model_input(dos, &opts)?.to_rows())))
        .collect()
}

fn bench_dos(args: &Args, ad: &Device) -> anyhow::Result<Measurement> {
    use multimat_modalities::dos::DOS_INPUT_LEN;
    let b = batch_of(args, EncoderKind::Dos);
    let spectra = dos_inputs(&args.dos)?;
    let rows: Vec<f32> = spectra
        .iter()
        .cycle()
        .take(b)
        .flat_map(|(_, r)| r.iter().copied())
        .collect();
    let x = Tensor::<3>::from_data(TensorData::new(rows, [b, 2, DOS_INPUT_LEN]), ad);
    let config = args.preset.dos();
    config.validate()?;
    let model = config.init(ad);
    let step_s = time_steps(args, "dos", ad, || {
        train_step(model.try_forward(x.clone())?);
        Ok(())
    })?;
    Ok(Measurement {
        encoder: EncoderKind::Dos.name(),
        params: trainable_params(&model),
        batch: b,
        input: format!(
            "{b} spectra of {DOS_INPUT_LEN} points from {} distinct in {}",
            spectra.len(),
            args.dos.display()
        ),
        forward_flops: flops::dos_forward(&config, b, DOS_INPUT_LEN),
        step_s,
    })
}

fn bench_density(args: &Args, ad: &Device) -> anyhow::Result<Measurement> {
    use multimat_modalities::charge_density::{
        model_input, read_volumetric, Resample, VolumetricKind, MODEL_GRID,
    };
    let b = batch_of(args, EncoderKind::Density);
    let dir = &args.chgcars;
    let mut files: Vec<PathBuf> = std::fs::read_dir(dir)
        .with_context(|| format!("reading {}", dir.display()))?
        .filter_map(|e| e.ok().map(|e| e.path()))
        .filter(|p| {
            p.is_file()
                && p.file_name()
                    .and_then(|n| VolumetricKind::from_name(&n.to_string_lossy()))
                    .is_some_and(VolumetricKind::is_charge_density)
        })
        .collect();
    files.sort();
    ensure!(
        !files.is_empty(),
        "{}: no charge-density files (CHGCAR, CHG, AECCAR, .cube, .json)",
        dir.display()
    );
    // Only as many files as the batch needs are parsed; larger batches reuse them in turn.
    files.truncate(b);
    let grids = files
        .iter()
        .map(|p| Ok(model_input(&read_volumetric(p)?, Resample::Fourier)?))
        .collect::<anyhow::Result<Vec<Vec<f32>>>>()?;
    let values: Vec<f32> = grids
        .iter()
        .cycle()
        .take(b)
        .flat_map(|g| g.iter().copied())
        .collect();
    let g = MODEL_GRID;
    let x = Tensor::<5>::from_data(TensorData::new(values, [b, 1, g, g, g]), ad);
    let config = args.preset.density();
    config.validate()?;
    let model = config.init(ad);
    let step_s = time_steps(args, "density", ad, || {
        train_step(model.try_forward(x.clone())?);
        Ok(())
    })?;
    let names: Vec<String> = files.iter().map(|p| file_name(p)).collect();
    Ok(Measurement {
        encoder: EncoderKind::Density.name(),
        params: trainable_params(&model),
        batch: b,
        input: format!(
            "{b} grids of {g}³ (Fourier-resampled) from {}",
            names.join(", ")
        ),
        forward_flops: flops::resnext_forward(&config, b, g),
        step_s,
    })
}

fn bench_text(args: &Args, ad: &Device) -> anyhow::Result<Measurement> {
    let b = batch_of(args, EncoderKind::Text);
    let config = args.preset.text();
    config.validate()?;
    let model = config.init(ad);
    // The MLP's cost does not depend on the values; frozen sentence vectors are roughly
    // standard normal per component.
    let x = Tensor::<2>::random([b, config.d_input], Distribution::Normal(0.0, 1.0), ad);
    let step_s = time_steps(args, "text", ad, || {
        train_step(model.try_forward(x.clone())?);
        Ok(())
    })?;
    Ok(Measurement {
        encoder: EncoderKind::Text.name(),
        params: trainable_params(&model),
        batch: b,
        input: format!("{b} random {}-d vectors", config.d_input),
        forward_flops: flops::text_forward(&config, b),
        step_s,
    })
}

fn file_name(path: &Path) -> String {
    path.file_name()
        .map(|n| n.to_string_lossy().into_owned())
        .unwrap_or_else(|| path.display().to_string())
}
