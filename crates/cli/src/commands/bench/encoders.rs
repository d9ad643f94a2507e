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

fn sync(device: &Device) -> anyhow::Result<()> {
    device
        .sync()
        .map_err(|e| anyhow::anyhow!("the tensor backend failed: {e:?}"))
}

/// Forward, loss = sum of the outputs, backward; the gradients are dropped.
fn train_step(output: Tensor<2>) {
    let grads = output.sum().backward();
    drop(grads);
}

// ---------------------------------------------------------------------------------------------
// peaks

struct MatmulPeak {
    best_gflops: f64,
    median_gflops: f64,
    reps: usize,
}

/// Best GFLOP/s of `n×n · n×n` f32 products (2n³ FLOPs each) on `device`, after one warm-up.
fn matmul_peak(n: usize, device: &Device) -> anyhow::Result<MatmulPeak> {
    let a = Tensor::<2>::random([n, n], Distribution::Uniform(-1.0, 1.0), device);
    let b = Tensor::<2>::random([n, n], Distribution::Uniform(-1.0, 1.0), device);
    let flop = 2.0 * (n as f64).powi(3);
    drop(a.clone().matmul(b.clone()));
    sync(device)?;
    // About 2 s of products, between 5 and 50 repetitions.
    let t = Instant::now();
    drop(a.clone().matmul(b.clone()));
    sync(device)?;
    let once = t.elapsed().as_secs_f64().max(1e-6);
    let reps = ((2.0 / once) as usize).clamp(5, 50);
    let mut rates = Vec::with_capacity(reps);
    for _ in 0..reps {
        let t = Instant::now();
        let c = a.clone().matmul(b.clone());
        sync(device)?;
        rates.push(flop / t.elapsed().as_secs_f64() / 1e9);
        drop(c);
    }
    rates.sort_by(f64::total_cmp);
    Ok(MatmulPeak {
        best_gflops: rates[reps - 1],
        median_gflops: rates[reps / 2],
        reps,
    })
}

/// Theoretical f32 peak of the CPU: `cores_used × ghz × flops_per_cycle`.
///
/// Assumptions: every core sustains two vector FMA instructions per cycle at the base (or
/// reported) clock, no turbo and no SMT gain (hyper-threads share the FMA units, so logical
/// CPUs beyond the physical cores add nothing). FLOPs per cycle per core by the widest SIMD
/// flag: AVX-512F 64 (2 × 16 lanes × FMA; parts with one 512-bit unit reach half), AVX2 + FMA
/// 32 (2 × 8 × 2), AVX without FMA 16 (one 8-lane add and one 8-lane multiply), SSE2 8,
/// AArch64 ASIMD 16 (2 × 4 × 2), otherwise 2 (one scalar FMA). burn's CPU matmul (gemm without
/// its `x86-v4` feature) uses at most AVX2 + FMA, so on AVX-512 machines the practical peak
/// stays near half of this figure.
#[derive(Debug, Clone, PartialEq)]
pub struct CpuPeak {
    /// CPU model name.
    pub model: String,
    /// Physical cores found (distinct physical id / core id pairs; logical CPUs if absent).
    pub physical_cores: usize,
    /// Cores counted in the peak: min(physical cores, worker threads).
    pub cores_used: usize,
    /// Clock, GHz.
    pub ghz: f64,
    /// Where the clock came from.
    pub ghz_source: &'static str,
    /// The SIMD level the count assumes.
    pub simd: &'static str,
    /// f32 FLOPs per cycle per core.
    pub flops_per_cycle: u32,
}

impl CpuPeak {
    /// Reads `/proc/cpuinfo` text. `threads` caps the cores counted; `max_ghz` (the sysfs
    /// maximum frequency, when readable) takes precedence over the clock in the model name,
    /// which takes precedence over the largest `cpu MHz`.
    pub fn from_cpuinfo(text: &str, threads: usize, max_ghz: Option<f64>) -> Self {
        let mut model = String::new();
        let mut flags: Vec<String> = Vec::new();
        let mut mhz: f64 = 0.0;
        let mut logical = 0usize;
        let mut cores = std::collections::BTreeSet::new();
        let mut physical_id = String::new();
        for line in text.lines() {
            let Some((key, value)) = line.split_once(':') else {
                continue;
            };
            let (key, value) = (key.trim(), value.trim());
            match key {
                "processor" => {
                    logical += 1;
                    physical_id.clear();
                }
                "model name" | "Processor" if model.is_empty() => model = value.to_string(),
                "flags" | "Features" if flags.is_empty() => {
                    flags = value.split_whitespace().map(str::to_string).collect()
                }
                "cpu MHz" => {
                    if let Ok(v) = value.parse::<f64>() {
                        mhz = mhz.max(v);
                    }
                }
                "physical id" => physical_id = value.to_string(),
                "core id" => {
                    cores.insert((physical_id.clone(), value.to_string()));
                }
                _ => {}
            }
        }
        let has = |f: &str| flags.iter().any(|x| x == f);
        let (simd, flops_per_cycle) = if has("avx512f") {
            ("AVX-512F, 2 FMA units", 64)
        } else if has("avx2") && has("fma") {
            ("AVX2 + FMA, 2 FMA units", 32)
        } else if has("avx") {
            ("AVX, 1 add + 1 mul unit", 16)
        } else if has("sse2") {
            ("SSE2, 1 add + 1 mul unit", 8)
        } else if has("asimd") {
            ("ASIMD, 2 FMA units", 16)
        } else {
            ("scalar FMA", 2)
        };
        let physical_cores = if cores.is_empty() {
            logical.max(1)
        } else {
            cores.len()
        };
        let (ghz, ghz_source) = match (max_ghz, ghz_in_model_name(&model)) {
            (Some(g), _) => (g, "cpufreq maximum"),
            (None, Some(g)) => (g, "model name"),
            (None, None) if mhz > 0.0 => (mhz / 1e3, "cpu MHz"),
            (None, None) => (0.0, "unknown"),
        };
        Self {
            model: if model.is_empty() {
                "unknown".into()
            } else {
                model
            },
            physical_cores,
            cores_used: physical_cores.min(threads.max(1)),
            ghz,
            ghz_source,
            simd,
            flops_per_cycle,
        }
    }

    /// Theoretical peak, GFLOP/s.
    pub fn gflops(&self) -> f64 {
        self.cores_used as f64 * self.ghz * self.flops_per_cycle as f64
    }

    fn to_json(&self) -> Value {
        json!({
            "model": self.model,
            "physical_cores": self.physical_cores,
            "cores_used": self.cores_used,
            "ghz": self.ghz,
            "ghz_source": self.ghz_source,
            "simd": self.simd,
            "f32_flops_per_cycle_per_core": self.flops_per_cycle,
            "gflops": self.gflops(),
            "assumptions": "two vector FMA issues per cycle per physical core at the stated clock; no turbo, no SMT gain",
        })
    }
}

/// The "@ 2.40GHz" of Intel model names.
fn ghz_in_model_name(model: &str) -> Option<f64> {
    let (_, tail) = model.rsplit_once('@')?;
    let number = tail.trim().strip_suffix("GHz")?;
    number.trim().parse().ok().filter(|g: &f64| *g > 0.0)
}

/// `cpuinfo_max_freq` of CPU 0 (kHz in sysfs), GHz; absent on most virtual machines.
fn sysfs_max_ghz() -> Option<f64> {
    let text =
        std::fs::read_to_string("/sys/devices/system/cpu/cpu0/cpufreq/cpuinfo_max_freq").ok()?;
    let khz: f64 = text.trim().parse().ok()?;
    (khz > 0.0).then_some(khz / 1e6)
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

#[cfg(test)]
mod tests {
    use super::*;

    const EPYC: &str = "processor\t: 0\nvendor_id\t: AuthenticAMD\nmodel name\t: AMD EPYC\n\
        cpu MHz\t\t: 2445.406\nphysical id\t: 0\ncore id\t\t: 0\n\
        flags\t\t: fpu sse sse2 avx fma avx2\n\n\
        processor\t: 1\nmodel name\t: AMD EPYC\ncpu MHz\t\t: 2445.406\nphysical id\t: 0\n\
        core id\t\t: 1\nflags\t\t: fpu sse sse2 avx fma avx2\n";

    #[test]
    fn avx2_cores_and_clock_give_the_peak() {
        let p = CpuPeak::from_cpuinfo(EPYC, 2, None);
        assert_eq!(p.physical_cores, 2);
        assert_eq!(p.cores_used, 2);
        assert_eq!(p.flops_per_cycle, 32);
        assert_eq!(p.ghz_source, "cpu MHz");
        assert!((p.gflops() - 2.0 * 2.445406 * 32.0).abs() < 1e-9);
        // One worker thread counts one core.
        assert_eq!(CpuPeak::from_cpuinfo(EPYC, 1, None).cores_used, 1);
        // A sysfs maximum wins over cpu MHz.
        let p = CpuPeak::from_cpuinfo(EPYC, 8, Some(3.5));
        assert_eq!((p.cores_used, p.ghz), (2, 3.5));
    }

    #[test]
    fn hyperthreads_share_a_core_and_intel_names_give_the_clock() {
        // Two logical CPUs on one core, AVX-512, clock in the model name.
        let text = "processor : 0\nmodel name : Intel(R) Xeon(R) Gold 6248 CPU @ 2.50GHz\n\
            cpu MHz : 3900.0\nphysical id : 0\ncore id : 0\nflags : sse2 avx avx2 fma avx512f\n\
            processor : 1\nmodel name : Intel(R) Xeon(R) Gold 6248 CPU @ 2.50GHz\n\
            cpu MHz : 3900.0\nphysical id : 0\ncore id : 0\nflags : sse2 avx avx2 fma avx512f\n";
        let p = CpuPeak::from_cpuinfo(text, 2, None);
        assert_eq!(p.physical_cores, 1);
        assert_eq!(p.ghz, 2.5);
        assert_eq!(p.flops_per_cycle, 64);
        assert_eq!(p.gflops(), 160.0);
    }

    #[test]
    fn missing_topology_counts_logical_cpus_and_old_simd_is_slower() {
        let text = "processor : 0\nflags : sse sse2\ncpu MHz : 2000\n\
            processor : 1\nflags : sse sse2\ncpu MHz : 2000\n\
            processor : 2\nflags : sse sse2\ncpu MHz : 2000\n";
        let p = CpuPeak::from_cpuinfo(text, 64, None);
        assert_eq!(
            (p.physical_cores, p.cores_used, p.flops_per_cycle),
            (3, 3, 8)
        );
        assert_eq!(p.model, "unknown");
        assert_eq!(p.gflops(), 48.0);
        let arm = "processor : 0\nFeatures : fp asimd evtstrm\n";
        let p = CpuPeak::from_cpuinfo(arm, 1, Some(3.0));
        assert_eq!((p.flops_per_cycle, p.gflops()), (16, 48.0));
    }

    #[test]
    fn ghz_parsing_needs_the_unit() {
        assert_eq!(ghz_in_model_name("Intel CPU @ 3.00GHz"), Some(3.0));
        assert_eq!(ghz_in_model_name("AMD EPYC 7763 64-Core Processor"), None);
        assert_eq!(ghz_in_model_name("odd @ fast"), None);
    }
}
