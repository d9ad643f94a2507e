//! `multimat eval retrieval`: cross-modal retrieval (spec §5.1) of a run, printed as a table.

use std::path::PathBuf;

use multimat_eval::retrieval;

use super::{embed_with_bar, open_session, RunInput};

#[derive(clap::Args, Debug)]
pub struct RetrievalArgs {
    #[command(flatten)]
    pub input: RunInput,
    /// Write the report as JSON here.
    #[arg(long)]
    pub out: Option<PathBuf>,
}

/// Retrieval over every ordered pair of the run's modalities.
pub fn retrieval_report(input: &RunInput) -> anyhow::Result<Vec<retrieval::RetrievalReport>> {
    let session = open_session(input)?;
    let sets = session
        .run
        .config
        .model
        .modalities()
        .into_iter()
        .map(|m| embed_with_bar(&session, m, false))
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
