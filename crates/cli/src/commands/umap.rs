//! `multimat umap`: a 2-D UMAP map of embeddings (spec §5.3: n_neighbors 15, min_dist 0.1,
//! cosine), coloured by crystal system, metal / non-metal, formation energy or any store label.

use std::path::PathBuf;

use anyhow::{bail, Context};
use multimat_dataset::Store;
use multimat_eval::embeddings::Embeddings;
use multimat_eval::plot::{scatter, Coloring, PlotStyle};
use multimat_eval::umap::{fit, trustworthiness, Metric, UmapConfig};

#[derive(clap::Args, Debug)]
pub struct Args {
    /// Embeddings from `multimat embed` (.parquet or .npy).
    #[arg(long)]
    pub emb: PathBuf,
    /// Store holding the colour values, matched by material id.
    #[arg(long)]
    pub data: PathBuf,
    /// crystal_system, is_metal, formation_energy or any numeric label of the store.
    #[arg(long, default_value = "crystal_system")]
    pub color: String,
    /// Output image: .png or .svg (the other format is written too with --both).
    #[arg(long)]
    pub out: PathBuf,
    /// Also write the image in the other format (.png ↔ .svg).
    #[arg(long)]
    pub both: bool,
    /// UMAP neighbours.
    #[arg(long, default_value_t = 15)]
    pub n_neighbors: usize,
    /// UMAP minimum distance.
    #[arg(long, default_value_t = 0.1)]
    pub min_dist: f64,
    /// Seed (layouts are reproducible for a seed).
    #[arg(long, default_value_t = 42)]
    pub seed: u64,
    /// Neighbours k of the trustworthiness score.
    #[arg(long, default_value_t = 15)]
    pub trust_k: usize,
}

/// What `umap` reports (also written as `<out>.json`).
#[derive(Debug, serde::Serialize)]
pub struct UmapReport {
    pub points: usize,
    pub color: String,
    pub trustworthiness: f64,
    pub trust_k: usize,
    pub images: Vec<String>,
    pub legend: multimat_eval::plot::LegendSummary,
}

pub fn run(args: Args) -> anyhow::Result<()> {
    let report = umap_map(&args)?;
    println!(
        "UMAP of {} points coloured by {}: trustworthiness {:.4} (k = {}); {}",
        report.points,
        report.color,
        report.trustworthiness,
        report.trust_k,
        report.images.join(", ")
    );
    Ok(())
}

/// Fits the layout, draws the map(s) and writes `<out>.json`.
pub fn umap_map(args: &Args) -> anyhow::Result<UmapReport> {
    let emb = Embeddings::read(&args.emb)?.normalized();
    let store = Store::open(&args.data)
        .with_context(|| format!("opening the store {}", args.data.display()))?;
    let rows: Vec<Option<usize>> = emb.ids.iter().map(|id| store.index_of(id)).collect();
    let unknown = rows.iter().filter(|r| r.is_none()).count();
    if unknown == emb.len() {
        bail!(
            "none of the {} ids of {} is in the store {}",
            emb.len(),
            args.emb.display(),
            args.data.display()
        );
    }
    let coloring = match args.color.as_str() {
        "crystal_system" => Coloring::Categorical {
            title: "crystal system".into(),
            values: rows
                .iter()
                .map(|r| r.and_then(|i| store.crystal_systems()[i].clone()))
                .collect(),
        },
        "is_metal" => Coloring::Categorical {
            title: "metal".into(),
            values: rows
                .iter()
                .map(|r| {
                    r.and_then(|i| store.is_metal()[i])
                        .map(|m| if m { "metal" } else { "non-metal" }.to_string())
                })
                .collect(),
        },
        label => {
            let values = store.label(label).map_err(|_| {
                anyhow::anyhow!(
                    "--color {label:?}: not crystal_system, is_metal or a label of the store (labels: {})",
                    store.label_names().join(", ")
                )
            })?;
            let title = match label {
                "formation_energy" => "formation energy (eV/atom)".to_string(),
                "band_gap" => "band gap (eV)".to_string(),
                "bulk_modulus" | "shear_modulus" => format!("{} (GPa)", label.replace('_', " ")),
                other => other.replace('_', " "),
            };
            Coloring::Continuous {
                title,
                values: rows.iter().map(|r| r.and_then(|i| values[i])).collect(),
            }
        }
    };
    let config = UmapConfig {
        n_neighbors: args.n_neighbors,
        min_dist: args.min_dist,
        seed: args.seed,
        ..Default::default()
    };
    eprintln!("fitting UMAP to {} points ...", emb.len());
    let layout = fit(&emb.values, emb.dim, &config)?;
    let k = args.trust_k.min(emb.len().saturating_sub(1) / 2).max(1);
    let trust = trustworthiness(&emb.values, emb.dim, &layout, k, Metric::Cosine)?;
    let style = PlotStyle {
        title: Some(format!(
            "{} embeddings — {} materials",
            emb.modality,
            emb.len()
        )),
        seed: args.seed,
        ..Default::default()
    };
    let mut images = vec![args.out.clone()];
    if args.both {
        let other = match args.out.extension().and_then(|e| e.to_str()) {
            Some("svg") => args.out.with_extension("png"),
            _ => args.out.with_extension("svg"),
        };
        images.push(other);
    }
    let mut legend = None;
    for path in &images {
        legend = Some(scatter(&layout, &coloring, &style, path)?);
    }
    let report = UmapReport {
        points: layout.len(),
        color: args.color.clone(),
        trustworthiness: trust,
        trust_k: k,
        images: images.iter().map(|p| p.display().to_string()).collect(),
        legend: legend.expect("at least one image"),
    };
    super::eval::write_json(&args.out.with_extension("json"), &report)?;
    Ok(report)
}
