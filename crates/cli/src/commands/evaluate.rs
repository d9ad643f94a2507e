//! Commands over a pretrained run: `embed`, `eval retrieval`, `eval discovery` and `discover`.
//! The numerics are in multimat-train (encoding) and multimat-eval (search and metrics).

use std::collections::HashMap;
use std::path::{Path, PathBuf};

use anyhow::{bail, Context};
use burn::tensor::{Device, Tensor, TensorData};
use multimat_dataset::{load_split, Store};
use multimat_eval::discovery::{self, DiscoveryConfig, Dos};
use multimat_eval::embeddings::Embeddings;
use multimat_eval::retrieval;
use multimat_train::config::Modality;
use multimat_train::data::CrystalGraphs;
use multimat_train::device::DeviceSpec;
use multimat_train::embed::{embed_modality, with_modality};
use multimat_train::model::ArrayInput;
use multimat_train::{load_run, LoadedRun};

/// Options shared by the commands that load a run and a store.
#[derive(clap::Args, Debug, Clone)]
pub struct RunInput {
    /// Pretraining run directory (from `multimat pretrain`).
    #[arg(long)]
    pub model: PathBuf,
    /// Dataset store.
    #[arg(long)]
    pub data: PathBuf,
    /// Which materials: a part (train, val, test) of the run's split, or `all`.
    #[arg(long, default_value = "test")]
    pub part: String,
    /// Device: cpu, cuda:N or wgpu:N.
    #[arg(long, default_value = "cpu", value_parser = super::args::DeviceArg)]
    pub device: DeviceSpec,
    /// Materials per batch.
    #[arg(long, default_value_t = 64)]
    pub batch_size: usize,
}

/// A run, its store and graphs, ready to embed.
pub struct Session {
    pub run: LoadedRun,
    pub store: Store,
    pub graphs: CrystalGraphs,
    pub device: Device,
    pub indices: Vec<usize>,
    pub batch_size: usize,
    pub run_name: String,
}

impl Session {
    pub fn open(input: &RunInput) -> anyhow::Result<Self> {
        let device = input.device.device()?;
        let run = load_run(&input.model, &device)?;
        let store = Store::open(&input.data)
            .with_context(|| format!("opening the store {}", input.data.display()))?;
        let graphs = CrystalGraphs::load(&store, run.config.model.crystal_kind())?;
        let indices = match input.part.as_str() {
            "all" => (0..store.len()).collect(),
            part @ ("train" | "val" | "test") => {
                let split = load_split(&store, &run.config.pretrain.split).with_context(|| {
                    format!(
                        "the run's split `{}` (use --part all for every material)",
                        run.config.pretrain.split
                    )
                })?;
                let idx = split.indices(&store)?;
                match part {
                    "train" => idx.train,
                    "val" => idx.val,
                    _ => idx.test,
                }
            }
            other => bail!("--part {other:?}: use train, val, test or all"),
        };
        Ok(Self {
            run,
            store,
            graphs,
            device,
            indices,
            batch_size: input.batch_size.max(1),
            run_name: input.model.display().to_string(),
        })
    }

    /// L2-normalised embeddings of every selected material that has `modality`.
    pub fn embed(&self, modality: Modality, quiet: bool) -> anyhow::Result<Embeddings> {
        if !self.run.config.model.modalities().contains(&modality) {
            bail!(
                "the run has no `{modality}` encoder; it encodes {:?}",
                self.run
                    .config
                    .model
                    .modalities()
                    .iter()
                    .map(|m| m.name())
                    .collect::<Vec<_>>()
            );
        }
        let members = with_modality(&self.store, &self.graphs, modality, &self.indices)?;
        let bar = if quiet {
            indicatif::ProgressBar::hidden()
        } else {
            super::progress_bar(members.len() as u64, modality.name())
        };
        let m = embed_modality(
            &self.run.model,
            &self.store,
            &self.graphs,
            modality,
            &members,
            self.batch_size,
            true,
            &self.device,
            &mut |done| bar.set_position(done as u64),
        )?;
        bar.finish_and_clear();
        let ids = members
            .iter()
            .map(|&i| self.store.ids()[i].clone())
            .collect();
        Ok(
            Embeddings::new(ids, modality.name(), m.dim, m.values, &self.run_name)?
                .with_model(self.run_name.clone()),
        )
    }
}

fn parse_modality(s: &str) -> anyhow::Result<Modality> {
    s.parse::<Modality>()
        .map_err(|e| anyhow::anyhow!("--modality: {e}"))
}

/// `multimat embed`.
#[derive(clap::Args, Debug)]
pub struct EmbedArgs {
    #[command(flatten)]
    pub input: RunInput,
    /// crystal, dos, phonon_dos, density or text.
    #[arg(long)]
    pub modality: String,
    /// Output: `.parquet` (id + embedding columns) or `.npy` (+ `.ids.json`).
    #[arg(long)]
    pub out: PathBuf,
}

pub fn embed(args: EmbedArgs) -> anyhow::Result<()> {
    let modality = parse_modality(&args.modality)?;
    let session = Session::open(&args.input)?;
    let emb = session.embed(modality, false)?;
    emb.write(&args.out)?;
    println!(
        "{} {} embeddings ({}-d, L2-normalised) of the {} part → {}",
        emb.len(),
        modality,
        emb.dim,
        args.input.part,
        args.out.display()
    );
    Ok(())
}

/// `multimat eval ...`.
#[derive(clap::Subcommand, Debug)]
pub enum EvalCommand {
    /// Cross-modal retrieval for every ordered pair of the run's modalities (spec §5.1).
    Retrieval(RetrievalArgs),
    /// Material discovery: nMAE of the best of the N nearest crystals' DOS (spec §5.2).
    Discovery(DiscoveryArgs),
}

#[derive(clap::Args, Debug)]
pub struct RetrievalArgs {
    #[command(flatten)]
    pub input: RunInput,
    /// Write the report as JSON here.
    #[arg(long)]
    pub out: Option<PathBuf>,
}

#[derive(clap::Args, Debug)]
pub struct DiscoveryArgs {
    #[command(flatten)]
    pub input: RunInput,
    /// Target spectra: dos (electronic, window −5..5 eV) or phonon_dos (whole range).
    #[arg(long, default_value = "dos")]
    pub modality: String,
    /// Energy window `lo,hi` (eV for dos; the stored unit for phonon_dos).
    #[arg(long, value_delimiter = ',')]
    pub window: Option<Vec<f64>>,
    /// Seed of the random-candidate baseline.
    #[arg(long, default_value_t = 42)]
    pub seed: u64,
    /// Write the report as JSON here.
    #[arg(long)]
    pub out: Option<PathBuf>,
}

pub fn eval(cmd: EvalCommand) -> anyhow::Result<()> {
    match cmd {
        EvalCommand::Retrieval(a) => {
            let report = retrieval_report(&a.input)?;
            print_retrieval(&report);
            if let Some(out) = a.out {
                write_json(&out, &report)?;
            }
            Ok(())
        }
        EvalCommand::Discovery(a) => {
            let report = discovery_report(&a)?;
            print_discovery(&report);
            if let Some(out) = a.out {
                write_json(&out, &report)?;
            }
            Ok(())
        }
    }
}

pub fn write_json<T: serde::Serialize>(path: &Path, value: &T) -> anyhow::Result<()> {
    let tmp = path.with_extension("json.tmp");
    std::fs::write(&tmp, serde_json::to_string_pretty(value)? + "\n")
        .with_context(|| format!("writing {}", tmp.display()))?;
    std::fs::rename(&tmp, path).with_context(|| format!("writing {}", path.display()))?;
    Ok(())
}

/// Retrieval over every ordered pair of the run's modalities.
pub fn retrieval_report(input: &RunInput) -> anyhow::Result<Vec<retrieval::RetrievalReport>> {
    let session = Session::open(input)?;
    let sets = session
        .run
        .config
        .model
        .modalities()
        .into_iter()
        .map(|m| session.embed(m, false))
        .collect::<anyhow::Result<Vec<_>>>()?;
    Ok(retrieval::evaluate_all(&sets)?)
}

pub fn print_retrieval(reports: &[retrieval::RetrievalReport]) {
    println!(
        "{:<24} {:>6} {:>14} {:>14} {:>14} {:>10} {:>10}",
        "query → gallery",
        "n",
        "top1 (chance)",
        "top5 (chance)",
        "top10 (chance)",
        "mean rank",
        "chance"
    );
    for r in reports {
        let cell = |k: usize| {
            r.top_k
                .iter()
                .find(|t| t.k == k)
                .map_or("-".to_string(), |t| {
                    format!("{:.3} ({:.3})", t.accuracy, t.chance)
                })
        };
        println!(
            "{:<24} {:>6} {:>14} {:>14} {:>14} {:>10.1} {:>10.1}",
            format!("{} → {}", r.query_modality, r.gallery_modality),
            r.n,
            cell(1),
            cell(5),
            cell(10),
            r.mean_rank,
            r.chance_mean_rank
        );
    }
}

/// The store's DOS rows of `modality` as curves, by material id.
fn dos_curves(store: &Store, modality: Modality) -> anyhow::Result<HashMap<String, Dos>> {
    let name = modality.store_array().expect("a DOS modality");
    let arr = store
        .modality(name)
        .ok_or_else(|| anyhow::anyhow!("the store has no `{name}` modality"))?;
    let rows = store.modality_rows(name)?;
    let mut out = HashMap::new();
    for (i, r) in rows.iter().enumerate() {
        if let Some(r) = r {
            let id = &store.ids()[i];
            out.insert(id.clone(), Dos::from_model_input(&arr.row(*r)?, id)?);
        }
    }
    Ok(out)
}

pub fn discovery_report(a: &DiscoveryArgs) -> anyhow::Result<discovery::DiscoveryReport> {
    let modality = parse_modality(&a.modality)?;
    if !matches!(modality, Modality::Dos | Modality::PhononDos) {
        bail!("--modality: discovery targets are spectra (dos or phonon_dos), got {modality}");
    }
    let session = Session::open(&a.input)?;
    let targets = session.embed(modality, false)?;
    // The candidate pool: the crystals of the same materials (the reference's test split).
    let candidates = session.embed(Modality::Crystal, false)?;
    let curves = dos_curves(&session.store, modality)?;
    let window = match (&a.window, modality) {
        (Some(w), _) if w.len() == 2 => (w[0], w[1]),
        (Some(w), _) => bail!("--window needs two numbers lo,hi; got {w:?}"),
        (None, Modality::Dos) => (-5.0, 5.0),
        (None, _) => {
            // Phonon spectra have no Fermi level: use the whole frequency range.
            let (lo, hi) = curves.values().fold((f64::MAX, f64::MIN), |(lo, hi), d| {
                (
                    lo.min(d.energies.first().copied().unwrap_or(lo)),
                    hi.max(d.energies.last().copied().unwrap_or(hi)),
                )
            });
            (lo, hi)
        }
    };
    let config = DiscoveryConfig {
        window,
        seed: a.seed,
        ..Default::default()
    };
    Ok(discovery::evaluate(
        &targets,
        &candidates,
        &curves,
        &config,
    )?)
}

pub fn print_discovery(r: &discovery::DiscoveryReport) {
    println!(
        "discovery: {} {} targets against {} {} candidates, window {:?}, {} grid points ({} zero-area targets skipped)",
        r.targets, r.target_modality, r.candidates, r.candidate_modality, r.window_ev, r.grid_points, r.skipped_zero_area
    );
    println!("{:>3} {:>12} {:>12}", "N", "model nMAE", "random nMAE");
    for p in &r.curve {
        println!("{:>3} {:>12.4} {:>12.4}", p.n, p.model, p.random);
    }
}

/// `multimat discover`.
#[derive(clap::Args, Debug)]
pub struct DiscoverArgs {
    /// Pretraining run directory.
    #[arg(long)]
    pub model: PathBuf,
    /// Target DOS file (pymatgen/MP JSON, vasprun.xml, DOSCAR, phonon DOS JSON).
    #[arg(long)]
    pub dos: PathBuf,
    /// Number of crystals to return.
    #[arg(long, default_value_t = 25)]
    pub k: usize,
    /// Candidate crystals: a store (embedded now) or an embeddings file from `multimat embed`.
    #[arg(long)]
    pub candidates: PathBuf,
    /// Device: cpu, cuda:N or wgpu:N.
    #[arg(long, default_value = "cpu", value_parser = super::args::DeviceArg)]
    pub device: DeviceSpec,
    /// Write the hits as JSON here.
    #[arg(long)]
    pub out: Option<PathBuf>,
}

pub fn discover(a: DiscoverArgs) -> anyhow::Result<()> {
    let device = a.device.device()?;
    let dos = multimat_modalities::dos::read_dos(&a.dos)?;
    let modality = match dos.kind {
        multimat_modalities::dos::SpectrumKind::Phonon { .. } => Modality::PhononDos,
        _ => Modality::Dos,
    };
    let input = multimat_modalities::dos::model_input(&dos, &Default::default())?;
    let rows = input.to_rows();
    let len = rows.len() / 2;
    // The run is loaded once: by the session when the candidates are a store, here otherwise.
    let (store, candidates, run) = if a.candidates.join("manifest.json").exists() {
        let input = RunInput {
            model: a.model.clone(),
            data: a.candidates.clone(),
            part: "all".into(),
            device: a.device,
            batch_size: 64,
        };
        let session = Session::open(&input)?;
        let c = session.embed(Modality::Crystal, false)?;
        (Some(session.store), c, session.run)
    } else {
        let c = Embeddings::read(&a.candidates)?;
        (None, c, load_run(&a.model, &device)?)
    };
    let x = Tensor::<3>::from_data(TensorData::new(rows, [1, 2, len]), &device);
    let emb = run.model.embed_array(modality, &ArrayInput::Spectrum(x))?;
    let mut target: Vec<f32> = emb
        .into_data()
        .convert::<f32>()
        .try_into_vec::<f32>()
        .map_err(|e| anyhow::anyhow!("reading the embedding back: {e:?}"))?;
    multimat_eval::embeddings::normalize_rows(&mut target, candidates.dim);
    let hits = discovery::nearest(&target, &candidates, a.k)?;
    println!(
        "the {} crystals nearest to the {} of {} ({} candidates):",
        hits.len(),
        modality,
        a.dos.display(),
        candidates.len()
    );
    let formula = |id: &str| {
        store
            .as_ref()
            .and_then(|s| s.index_of(id).map(|i| s.formulas()[i].clone()))
            .unwrap_or_default()
    };
    for (rank, h) in hits.iter().enumerate() {
        println!(
            "{:>3}  {:<16} {:<14} {:.4}",
            rank + 1,
            h.id,
            formula(&h.id),
            h.similarity
        );
    }
    if let Some(out) = a.out {
        write_json(&out, &hits)?;
    }
    Ok(())
}
