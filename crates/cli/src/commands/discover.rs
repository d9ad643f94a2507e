//! `multimat discover`: the crystals nearest to a target DOS file. Embedding the spectrum and
//! ranking the candidates is [`multimat_train::discover`]; this parses and prints.

use std::path::PathBuf;

use multimat_eval::embeddings::Embeddings;
use multimat_train::device::DeviceSpec;
use multimat_train::discover::{discover, spectrum_modality};
use multimat_train::load_run;

use super::eval::{embed_with_bar, open_session, write_json, RunInput};

/// `multimat discover`.
#[derive(clap::Args, Debug)]
pub struct DiscoverArgs {
    /// Model folder or pretraining run directory (default: the shipped multimat-base).
    #[arg(long)]
    pub model: Option<PathBuf>,
    /// Target DOS file (pymatgen/MP JSON, vasprun.xml, DOSCAR, phonon DOS JSON).
    #[arg(long)]
    pub dos: PathBuf,
    /// Number of crystals to return.
    #[arg(long, default_value_t = 25)]
    pub k: usize,
    /// Candidate crystals: a store (embedded now) or an embeddings file from `multimat embed`
    /// (default: the model folder's own candidates, every structure multimat ships).
    #[arg(long)]
    pub candidates: Option<PathBuf>,
    /// Device: cpu, cuda:N or wgpu:N.
    #[arg(long, default_value = "cpu", value_parser = super::args::DeviceArg)]
    pub device: DeviceSpec,
    /// Write the hits as JSON here.
    #[arg(long)]
    pub out: Option<PathBuf>,
}

pub fn run(a: DiscoverArgs) -> anyhow::Result<()> {
    let device = a.device.device()?;
    let dos = multimat_modalities::dos::read_dos(&a.dos)?;
    let modality = spectrum_modality(&dos);
    let model = multimat_train::package::resolve_model(a.model.as_deref())?;
    let candidates_path = match &a.candidates {
        Some(c) => c.clone(),
        None => {
            let c = model.join(multimat_train::package::CANDIDATES_FILE);
            if !c.exists() {
                anyhow::bail!(
                    "{} has no candidates file ({}); give --candidates STORE or an embeddings file",
                    model.display(),
                    multimat_train::package::CANDIDATES_FILE
                );
            }
            c
        }
    };
    // The run is loaded once: by the session when the candidates are a store, here otherwise.
    let (store, candidates, run) = if candidates_path.join("manifest.json").exists() {
        let input = RunInput {
            model: Some(model.clone()),
            data: candidates_path.clone(),
            part: "all".into(),
            device: a.device,
            batch_size: 64,
        };
        let session = open_session(&input)?;
        let c = embed_with_bar(&session, multimat_model::Modality::Crystal, false)?;
        (Some(session.store), c, session.run)
    } else {
        let c = Embeddings::read(&candidates_path)?;
        (None, c, load_run(&model, &device)?)
    };
    let info = multimat_train::package::CandidateInfo::read_beside(&candidates_path);
    let hits = discover(&run.model, &dos, &candidates, a.k, &device)?;
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
            .or_else(|| info.get(id).map(|c| c.formula.clone()))
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
