//! `multimat quickstart`: the whole MultiMat pipeline on the shipped data in one command.
//!
//! Stages (each one the library call behind the command named in brackets):
//! 1. import the quickstart slice of the shipped data (`data import --recipe`),
//! 2. PotNet graphs (`data graphs`),
//! 3. pretrain crystal + text + phonon DOS + derived charge density with masked AnchoredCLIP
//!    (`pretrain`),
//! 4. fine-tune bulk modulus from the pretrained encoder and from scratch on one split
//!    (`finetune`),
//! 5. cross-modal retrieval on the pretraining run's test split (`eval retrieval`),
//! 6. phonon-DOS material discovery against a random baseline (`eval discovery`),
//! 7. crystal embeddings of every material and their UMAP maps (`embed`, `umap`),
//! 8. `summary.json` and a summary table.
//!
//! Every stage records its result in `DIR/quickstart-state.json` once finished, so running the
//! same command again skips finished stages and continues an interrupted pretraining from its
//! last checkpoint.

use std::collections::BTreeMap;
use std::path::{Path, PathBuf};
use std::time::Instant;

use anyhow::{bail, Context};
use multimat_dataset::{GraphKind, Store};
use multimat_model::Modality;
use multimat_train::finetune::{FinetuneConfig, FinetuneJob, TargetTransform, Variant};
use multimat_train::{PretrainConfig, PretrainJob};
use serde::{Deserialize, Serialize};
use serde_json::{json, Value};

use super::eval::{write_json, DiscoveryArgs, RunInput};

/// Arguments of `multimat quickstart`.
#[derive(clap::Args, Debug)]
pub struct Args {
    /// Output folder: store/, pretrain/, finetune/, retrieval.json, discovery.json,
    /// embeddings/, umap/, summary.json. Running again with the same folder resumes.
    #[arg(long)]
    pub out: PathBuf,
    /// Import recipe of the data slice (relative paths resolve against the repository root
    /// when they do not exist in the working directory).
    #[arg(long, default_value = "data/quickstart.toml")]
    pub recipe: PathBuf,
    /// Pretraining settings (any `multimat pretrain` TOML).
    #[arg(long, default_value = "configs/quickstart.toml")]
    pub config: PathBuf,
    /// Pretraining epochs (default: the config's); CI uses 1.
    #[arg(long)]
    pub epochs: Option<usize>,
    /// Fine-tuning epochs per variant; CI uses 1.
    #[arg(long, default_value_t = 25)]
    pub finetune_epochs: usize,
    /// Fine-tuning task (a numeric label of the store).
    #[arg(long, default_value = "bulk_modulus")]
    pub task: String,
    /// CPU threads (0 = all cores).
    #[arg(long, default_value_t = 0)]
    pub threads: usize,
    /// Device: cpu, cuda:N or wgpu:N (not part of the folder's settings: a quickstart folder
    /// can be continued on another device).
    #[arg(long, default_value = "cpu", value_parser = super::args::DeviceArg)]
    pub device: multimat_train::DeviceSpec,
}

/// The settings a quickstart folder was made with; a rerun with other settings is refused
/// rather than mixing results.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
struct Settings {
    recipe: String,
    pretrain: Value,
    finetune_epochs: usize,
    task: String,
}

/// `DIR/quickstart-state.json`: the settings and each finished stage's record.
#[derive(Debug, Serialize, Deserialize)]
struct State {
    format: String,
    settings: Settings,
    stages: BTreeMap<String, Value>,
}

const STATE_FORMAT: &str = "multimat-quickstart-state/1";
const STAGES: usize = 7;

impl State {
    fn path(dir: &Path) -> PathBuf {
        dir.join("quickstart-state.json")
    }

    fn load_or_new(dir: &Path, settings: &Settings) -> anyhow::Result<Self> {
        let path = Self::path(dir);
        if !path.exists() {
            if dir.exists() && std::fs::read_dir(dir)?.next().is_some() {
                bail!(
                    "{} exists and is not a quickstart folder (no quickstart-state.json); choose another --out",
                    dir.display()
                );
            }
            return Ok(Self {
                format: STATE_FORMAT.into(),
                settings: settings.clone(),
                stages: BTreeMap::new(),
            });
        }
        let text = std::fs::read_to_string(&path)
            .with_context(|| format!("reading {}", path.display()))?;
        let mut state: State = serde_json::from_str(&text)
            .with_context(|| format!("{}: not a quickstart state file", path.display()))?;
        // Folders made before device and threads became job settings recorded them; they no
        // longer decide whether the settings match.
        if let Some(p) = state.settings.pretrain.as_object_mut() {
            p.remove("device");
            p.remove("threads");
        }
        if state.format != STATE_FORMAT {
            bail!(
                "{}: format {:?}, this multimat writes {STATE_FORMAT:?}; choose another --out",
                path.display(),
                state.format
            );
        }
        if &state.settings != settings {
            bail!(
                "{} was made with other settings ({}); use the same flags to resume it or choose another --out",
                dir.display(),
                serde_json::to_string(&state.settings)?
            );
        }
        Ok(state)
    }

    fn save(&self, dir: &Path) -> anyhow::Result<()> {
        write_json(&Self::path(dir), self)
    }

    /// Runs stage `name` unless an earlier run finished it, then records its result.
    fn stage(
        &mut self,
        dir: &Path,
        name: &str,
        run: impl FnOnce() -> anyhow::Result<Value>,
    ) -> anyhow::Result<()> {
        if self.stages.contains_key(name) {
            eprintln!("done earlier");
            return Ok(());
        }
        let record = run()?;
        self.stages.insert(name.into(), record);
        self.save(dir)
    }
}

/// Resolves a default data path: as given when it exists, else against the repository this
/// binary was built from (so `cargo run -- quickstart` works from any folder of the clone).
fn resolve(path: &Path, what: &str) -> anyhow::Result<PathBuf> {
    if path.exists() {
        return Ok(path.to_path_buf());
    }
    let repo = Path::new(env!("CARGO_MANIFEST_DIR")).join("../..");
    let candidate = repo.join(path);
    if path.is_relative() && candidate.exists() {
        return Ok(candidate);
    }
    bail!(
        "{what} {} not found (run from the repository root, or pass its path)",
        path.display()
    )
}

pub fn run(args: Args) -> anyhow::Result<()> {
    let started = Instant::now();
    let recipe_path = resolve(&args.recipe, "recipe")?;
    let config_path = resolve(&args.config, "pretraining config")?;
    let mut pretrain_config = PretrainConfig::from_toml_file(&config_path)?;
    if let Some(e) = args.epochs {
        pretrain_config.epochs = e;
        pretrain_config.warmup_epochs = pretrain_config.warmup_epochs.min(e as f64 / 2.0);
    }
    let pretrain_config = pretrain_config.validated(&config_path.display().to_string())?;
    let settings = Settings {
        recipe: std::fs::read_to_string(&recipe_path)
            .with_context(|| format!("reading {}", recipe_path.display()))?,
        pretrain: serde_json::to_value(&pretrain_config)?,
        finetune_epochs: args.finetune_epochs,
        task: args.task.clone(),
    };
    let dir = args.out.clone();
    let mut state = State::load_or_new(&dir, &settings)?;
    std::fs::create_dir_all(&dir).with_context(|| format!("creating {}", dir.display()))?;
    state.save(&dir)?;

    let store_dir = dir.join("store");
    let run_dir = dir.join("pretrain");
    let ft_dir = dir.join("finetune");
    let announce = |n: usize, what: &str| {
        eprintln!(
            "\n[{n}/{STAGES}] {what}  ({:.0} s elapsed)",
            started.elapsed().as_secs_f64()
        )
    };

    // 1. Import.
    announce(1, &format!("importing {}", recipe_path.display()));
    state.stage(&dir, "import", || {
        let recipe = multimat_import::Recipe::from_path(&recipe_path)?;
        let options = multimat_import::ImportOptions {
            strict: false,
            derive_density: false, // the recipe's [options] decide
            commit_every: 500,
            symprec: multimat_crystal::DEFAULT_SYMPREC,
            label_files: Vec::new(),
        };
        let t = Instant::now();
        let summary = super::data::import_with_progress(&store_dir, &[], Some(&recipe), &options)?;
        eprintln!(
            "{} materials ({} derived densities, {:.0} CPU-s) in {:.0} s; {} input(s) skipped (see {})",
            summary.store_materials,
            summary.modalities.get("density").map_or(0, |m| m.derived),
            summary.derived_density_cpu_seconds,
            t.elapsed().as_secs_f64(),
            summary.problems,
            store_dir.join("import_report.json").display()
        );
        let store = Store::open(&store_dir)?;
        let info = multimat_dataset::info(&store)?;
        Ok(json!({"seconds": t.elapsed().as_secs_f64(), "store": serde_json::to_value(&info)?}))
    })?;
    let store = Store::open(&store_dir)?;

    // 2. Graphs.
    // The PotNet cache takes seconds and lets every PotNet command run on this store later;
    // CGCNN graphs are built when a job loads the store.
    announce(2, "PotNet graph cache");
    state.stage(&dir, "graphs", || {
        let meta = super::data::build_graphs(&store, GraphKind::Potnet)?;
        eprintln!(
            "{} graphs in {:.1} s, {} failed",
            meta.materials,
            meta.seconds,
            meta.failed.len()
        );
        Ok(json!({"materials": meta.materials, "seconds": meta.seconds, "failed": meta.failed.len()}))
    })?;

    // 3. Pretraining (resumes from its last checkpoint after an interruption).
    let modalities: Vec<&str> = pretrain_config
        .modalities
        .iter()
        .map(|m| m.name())
        .collect();
    announce(
        3,
        &format!(
            "pretraining {} ({}, {} preset, {} epochs)",
            modalities.join(" + "),
            serde_json::to_value(pretrain_config.loss)?,
            serde_json::to_value(pretrain_config.preset)?,
            pretrain_config.epochs
        ),
    );
    state.stage(&dir, "pretrain", || {
        let t = Instant::now();
        // An interrupted run continues, from its first epoch when it had no checkpoint yet.
        let started = run_dir.join("config.json").exists();
        let job = PretrainJob {
            store: &store,
            store_name: store_dir.display().to_string(),
            config: pretrain_config.clone(),
            out: run_dir.clone(),
            resume: started,
            stop_after: None,
            device: args.device,
            threads: args.threads,
        };
        super::pretrain::run_job(job)?;
        let records = read_epoch_records(&run_dir.join("metrics.jsonl"))?;
        Ok(json!({"seconds": t.elapsed().as_secs_f64(), "epochs": records}))
    })?;

    // 4. Fine-tuning: pretrained vs from scratch on the same split and seed.
    announce(
        4,
        &format!(
            "fine-tuning {} from the pretrained encoder and from scratch ({} epochs each)",
            args.task, args.finetune_epochs
        ),
    );
    state.stage(&dir, "finetune", || {
        if ft_dir.exists() {
            // Fine-tuning has no resume: an interrupted one starts over.
            std::fs::remove_dir_all(&ft_dir)
                .with_context(|| format!("removing {}", ft_dir.display()))?;
        }
        let t = Instant::now();
        let config = FinetuneConfig {
            task: args.task.clone(),
            epochs: args.finetune_epochs,
            warmup_epochs: (args.finetune_epochs as f64 / 10.0).max(0.0),
            batch_size: 64,
            lr: 1e-3,
            target_transform: TargetTransform::Log10,
            ..Default::default()
        }
        .validated("quickstart")?;
        let job = FinetuneJob {
            store: &store,
            store_name: store_dir.display().to_string(),
            config,
            from: Some(run_dir.clone()),
            variants: vec![Variant::Pretrained, Variant::Scratch],
            out: ft_dir.clone(),
            device: args.device,
            threads: args.threads,
        };
        let results = super::finetune::run_job(job)?;
        let mae = |v: Variant| {
            results
                .variants
                .iter()
                .find(|r| r.variant == v)
                .map(|r| r.test_mae.mean)
        };
        Ok(json!({
            "seconds": t.elapsed().as_secs_f64(),
            "task": results.task,
            "metric": format!("test MAE ({})", results.units),
            "units": results.units,
            "target_transform": results.target_transform,
            "split": results.split,
            "sizes": results.sizes,
            "pretrained_mae": mae(Variant::Pretrained),
            "scratch_mae": mae(Variant::Scratch),
            "results": ft_dir.join("results.json"),
        }))
    })?;

    let input = RunInput {
        model: Some(run_dir.clone()),
        data: store_dir.clone(),
        part: "test".into(),
        device: args.device,
        batch_size: 64,
    };

    // 5. Retrieval.
    announce(5, "cross-modal retrieval on the test split");
    state.stage(&dir, "retrieval", || {
        let reports = super::eval::retrieval_report(&input)?;
        super::eval::print_retrieval(&reports);
        write_json(&dir.join("retrieval.json"), &reports)?;
        let rows: Vec<Value> = reports
            .iter()
            .map(|r| {
                let at = |k: usize| r.top_k.iter().find(|t| t.k == k);
                json!({
                    "query": r.query_modality,
                    "gallery": r.gallery_modality,
                    "n": r.n,
                    "top1": at(1).map(|t| t.accuracy),
                    "top5": at(5).map(|t| t.accuracy),
                    "top10": at(10).map(|t| t.accuracy),
                    "chance": {
                        "top1": at(1).map(|t| t.chance),
                        "top5": at(5).map(|t| t.chance),
                        "top10": at(10).map(|t| t.chance),
                    },
                    "mean_rank": r.mean_rank,
                    "chance_mean_rank": r.chance_mean_rank,
                })
            })
            .collect();
        Ok(Value::Array(rows))
    })?;

    // 6. Discovery with phonon-DOS targets.
    announce(6, "material discovery from phonon DOS targets");
    state.stage(&dir, "discovery", || {
        let report = super::eval::discovery_report(&DiscoveryArgs {
            input: input.clone(),
            modality: Modality::PhononDos.name().into(),
            window: None,
            seed: 42,
            out: None,
        })?;
        super::eval::print_discovery(&report);
        write_json(&dir.join("discovery.json"), &report)?;
        let at = |n: usize| report.curve.iter().find(|p| p.n == n);
        let pick = |f: fn(&multimat_eval::discovery::CurvePoint) -> f64| {
            json!({
                "1": at(1).map(f),
                "5": at(5).map(f),
                "15": at(15).map(f),
            })
        };
        Ok(json!({
            "target": report.target_modality,
            "targets": report.targets,
            "candidates": report.candidates,
            "nmae": pick(|p| p.model),
            "random_nmae": pick(|p| p.random),
            "report": dir.join("discovery.json"),
        }))
    })?;

    // 7. Crystal embeddings of every material and their UMAP maps.
    announce(7, "crystal embeddings and UMAP maps");
    state.stage(&dir, "umap", || {
        let all = RunInput {
            part: "all".into(),
            ..input.clone()
        };
        let session = super::eval::open_session(&all)?;
        let emb = super::eval::embed_with_bar(&session, Modality::Crystal, false)?;
        drop(session);
        let emb_dir = dir.join("embeddings");
        std::fs::create_dir_all(&emb_dir)?;
        let emb_path = emb_dir.join("crystal.parquet");
        emb.write(&emb_path)?;
        let umap_dir = dir.join("umap");
        std::fs::create_dir_all(&umap_dir)?;
        let mut maps = Vec::new();
        for color in ["crystal_system", "formation_energy", "is_metal"] {
            let report = super::umap::umap_map(&super::umap::Args {
                emb: emb_path.clone(),
                data: store_dir.clone(),
                color: color.into(),
                out: umap_dir.join(format!("crystal-{color}.png")),
                both: true,
                n_neighbors: 15,
                min_dist: 0.1,
                seed: 42,
                trust_k: 15,
            })?;
            eprintln!(
                "{color}: {} points, trustworthiness {:.4}, {}",
                report.points,
                report.trustworthiness,
                report.images.join(", ")
            );
            maps.push(json!({
                "color": color,
                "points": report.points,
                "trustworthiness": report.trustworthiness,
                "images": report.images,
            }));
        }
        Ok(json!({"embeddings": emb_path, "maps": maps}))
    })?;

    let summary = json!({
        "format": "multimat-quickstart-summary/1",
        "seconds_this_session": started.elapsed().as_secs_f64(),
        "peak_rss_mib": super::peak_rss_mib(),
        "store": state.stages["import"]["store"],
        "pretrain": {
            "run": run_dir,
            "modalities": modalities,
            "loss": pretrain_config.loss,
            "preset": pretrain_config.preset,
            "epochs": pretrain_config.epochs,
            "log": state.stages["pretrain"]["epochs"],
        },
        "retrieval": state.stages["retrieval"],
        "finetune": state.stages["finetune"],
        "discovery": state.stages["discovery"],
        "umap": state.stages["umap"]["maps"],
        "stage_seconds": {
            "import": state.stages["import"]["seconds"],
            "graphs": state.stages["graphs"]["seconds"],
            "pretrain": state.stages["pretrain"]["seconds"],
            "finetune": state.stages["finetune"]["seconds"],
        },
    });
    write_json(&dir.join("summary.json"), &summary)?;
    print_summary(&summary);
    println!("\nsummary: {}", dir.join("summary.json").display());
    Ok(())
}

/// The epoch records of a run's metrics log.
fn read_epoch_records(path: &Path) -> anyhow::Result<Vec<Value>> {
    let text =
        std::fs::read_to_string(path).with_context(|| format!("reading {}", path.display()))?;
    let mut out = Vec::new();
    for (i, line) in text.lines().enumerate() {
        let v: Value = serde_json::from_str(line)
            .with_context(|| format!("{} line {}: not JSON", path.display(), i + 1))?;
        if v["event"] == "epoch" {
            out.push(v);
        }
    }
    Ok(out)
}

fn print_summary(s: &Value) {
    let f = |v: &Value| v.as_f64().map_or("-".to_string(), |x| format!("{x:.3}"));
    println!("\n== MultiMat quickstart ==");
    if let Some(last) = s["pretrain"]["log"].as_array().and_then(|a| a.last()) {
        println!(
            "pretraining: {} epochs, train loss {} → val loss {}",
            s["pretrain"]["epochs"].as_u64().unwrap_or(0),
            f(&last["train_loss"]),
            f(&last["val_loss"])
        );
    }
    println!("\nretrieval on the test split (top-k accuracy, chance in brackets):");
    println!(
        "{:<26} {:>5} {:>15} {:>15} {:>15}",
        "query → gallery", "n", "top1", "top5", "top10"
    );
    for r in s["retrieval"].as_array().into_iter().flatten() {
        let cell = |k: &str| format!("{} ({})", f(&r[k]), f(&r["chance"][k]));
        println!(
            "{:<26} {:>5} {:>15} {:>15} {:>15}",
            format!(
                "{} → {}",
                r["query"].as_str().unwrap_or(""),
                r["gallery"].as_str().unwrap_or("")
            ),
            r["n"].as_u64().unwrap_or(0),
            cell("top1"),
            cell("top5"),
            cell("top10")
        );
    }
    let ft = &s["finetune"];
    println!(
        "\nfine-tuning {}: {} pretrained {} vs from scratch {}",
        ft["task"].as_str().unwrap_or(""),
        ft["metric"].as_str().unwrap_or(""),
        f(&ft["pretrained_mae"]),
        f(&ft["scratch_mae"])
    );
    let d = &s["discovery"];
    println!(
        "\ndiscovery ({} targets, {} candidates), nMAE of the best of N (random baseline):",
        d["targets"].as_u64().unwrap_or(0),
        d["candidates"].as_u64().unwrap_or(0)
    );
    for n in ["1", "5", "15"] {
        println!(
            "  N = {n:>2}: {} ({})",
            f(&d["nmae"][n]),
            f(&d["random_nmae"][n])
        );
    }
    println!("\nUMAP maps:");
    for m in s["umap"].as_array().into_iter().flatten() {
        println!(
            "  {:<17} trustworthiness {}  {}",
            m["color"].as_str().unwrap_or(""),
            f(&m["trustworthiness"]),
            m["images"][0].as_str().unwrap_or("")
        );
    }
    if let Some(p) = s["peak_rss_mib"].as_f64() {
        println!(
            "\n{:.0} s this session, peak memory {p:.0} MiB",
            s["seconds_this_session"].as_f64().unwrap_or(0.0)
        );
    }
}
