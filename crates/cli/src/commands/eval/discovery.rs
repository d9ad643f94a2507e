//! `multimat eval discovery`: material discovery (spec §5.2) of a run, the nMAE best-of-N curve
//! beside random candidates.

use std::collections::HashMap;
use std::path::PathBuf;

use anyhow::bail;
use multimat_dataset::Store;
use multimat_eval::discovery::{self, DiscoveryConfig, Dos};
use multimat_model::Modality;

use super::{embed_with_bar, open_session, parse_modality, RunInput};

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
    let session = open_session(&a.input)?;
    let targets = embed_with_bar(&session, modality, false)?;
    // The candidate pool: the crystals of the same materials (the reference's test split).
    let candidates = embed_with_bar(&session, Modality::Crystal, false)?;
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
