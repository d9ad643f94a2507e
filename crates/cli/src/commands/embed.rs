//! `multimat embed`: embeddings written as Parquet or `.npy`, either of files given on the
//! command line (structures; DOS or charge-density files with `--modality`) or of one modality
//! of a store's materials. The passes are [`multimat_train::structures`] and
//! [`multimat_train::Session::embed`].

use std::path::PathBuf;

use multimat_eval::embeddings::Embeddings;
use multimat_model::Modality;
use multimat_train::device::DeviceSpec;
use multimat_train::structures::{embed_file, embed_structures, Embedded};

use super::eval::{embed_with_bar, open_session, parse_modality, RunInput};

/// `multimat embed`.
#[derive(clap::Args, Debug)]
pub struct EmbedArgs {
    /// Files to embed: structures (CIF, POSCAR, pymatgen JSON, extended XYZ) for `crystal`, DOS
    /// files for `dos` / `phonon_dos`, CHGCAR / cube / JSON for `density`. Without files,
    /// `--data` embeds a store.
    pub files: Vec<PathBuf>,
    /// Model folder or pretraining run (default: the shipped multimat-base).
    #[arg(long)]
    pub model: Option<PathBuf>,
    /// A dataset store whose materials to embed (instead of files).
    #[arg(long)]
    pub data: Option<PathBuf>,
    /// Which materials of the store: train, val, test (of the run's split) or all.
    #[arg(long, default_value = "all")]
    pub part: String,
    /// crystal, dos, phonon_dos, density or text (text only from a store).
    #[arg(long, default_value = "crystal")]
    pub modality: String,
    /// Output: `.parquet` (id + embedding columns) or `.npy` (+ `.ids.json`).
    #[arg(long)]
    pub out: PathBuf,
    /// Device: cpu, cuda:N or wgpu:N.
    #[arg(long, default_value = "cpu", value_parser = super::args::DeviceArg)]
    pub device: DeviceSpec,
    /// Materials per batch.
    #[arg(long, default_value_t = 64)]
    pub batch_size: usize,
    #[command(flatten)]
    pub input: super::StructureInput,
}

pub fn run(args: EmbedArgs) -> anyhow::Result<()> {
    let modality = parse_modality(&args.modality)?;
    let emb = match (&args.data, args.files.is_empty()) {
        (Some(_), false) => anyhow::bail!("give files or --data STORE, not both"),
        (None, true) => anyhow::bail!("nothing to embed: give files, or --data STORE"),
        (Some(data), true) => {
            let input = RunInput {
                model: args.model.clone(),
                data: data.clone(),
                part: args.part.clone(),
                device: args.device,
                batch_size: args.batch_size,
            };
            let session = open_session(&input)?;
            let emb = embed_with_bar(&session, modality, false)?;
            eprintln!(
                "{} {modality} embeddings of the {} part of {}",
                emb.len(),
                args.part,
                data.display()
            );
            emb
        }
        (None, false) => embed_files(&args, modality)?,
    };
    emb.write(&args.out)?;
    println!(
        "{} {} embeddings ({}-d, L2-normalised) → {}",
        emb.len(),
        modality,
        emb.dim,
        args.out.display()
    );
    Ok(())
}

/// Embeds the files of `args`; a file that cannot be read or embedded is reported on stderr
/// and left out, and the job fails only when none is left.
fn embed_files(args: &EmbedArgs, modality: Modality) -> anyhow::Result<Embeddings> {
    let device = args.device.device()?;
    let model_dir = multimat_train::package::resolve_model(args.model.as_deref())?;
    let run = multimat_train::load_run(&model_dir, &device)?;
    let names: Vec<String> = args.files.iter().map(|f| f.display().to_string()).collect();
    let mut results: Vec<Embedded> = Vec::with_capacity(names.len());
    let bar = super::progress_bar(names.len() as u64, modality.name());
    match modality {
        Modality::Crystal => {
            let mut readable = Vec::new();
            let mut slots = Vec::new();
            for (i, f) in args.files.iter().enumerate() {
                match args.input.read(f) {
                    Ok(s) => {
                        slots.push(i);
                        readable.push((names[i].clone(), s));
                        results.push(Ok(Vec::new()));
                    }
                    Err(e) => results.push(Err(format!("{e:#}"))),
                }
            }
            let embedded = embed_structures(
                &run.model,
                &run.config.model.crystal,
                &readable,
                args.batch_size,
                &device,
                &mut |done| bar.set_position(done as u64),
            );
            for (slot, e) in slots.into_iter().zip(embedded) {
                results[slot] = e;
            }
        }
        Modality::Text => anyhow::bail!(
            "text files are not embedded here: embed the descriptions of a store (--data), or see `multimat text embed`"
        ),
        m => {
            for f in &args.files {
                results.push(embed_file(&run.model, m, f, &device).map_err(|e| e.to_string()));
                bar.inc(1);
            }
        }
    }
    bar.finish_and_clear();
    let mut ids = Vec::new();
    let mut values = Vec::new();
    let mut dim = 0;
    for (name, r) in names.iter().zip(results) {
        match r {
            Ok(v) => {
                dim = v.len();
                ids.push(name.clone());
                values.extend(v);
            }
            Err(e) => eprintln!("skipped {name}: {e}"),
        }
    }
    if ids.is_empty() {
        anyhow::bail!(
            "none of the {} files could be embedded (reasons above)",
            names.len()
        );
    }
    let model_name = model_dir.display().to_string();
    Ok(Embeddings::new(ids, modality.name(), dim, values, &model_name)?.with_model(model_name))
}
