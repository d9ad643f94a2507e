//! `multimat predict`: property predictions for structure files, by every head of a model
//! folder (the shipped multimat-base when `--model` is not given) or by one fine-tuned model.

use std::io::Write;
use std::path::{Path, PathBuf};

use anyhow::Context;
use multimat_crystal::Structure;
use multimat_train::device::DeviceSpec;
use multimat_train::finetune::Variant;
use multimat_train::package::{self, PackageInfo, PACKAGE_FILE};
use multimat_train::predict::{resolve_model_dir, Prediction, Predictor};

/// Arguments of `multimat predict`.
#[derive(clap::Args, Debug)]
pub struct Args {
    /// A model folder (every head predicts; default: the shipped multimat-base), a `multimat
    /// finetune --out` folder, or one run folder inside it (VARIANT/seed-S).
    #[arg(long)]
    pub model: Option<PathBuf>,
    /// Structure files (CIF, POSCAR, pymatgen JSON, extended XYZ; .gz allowed).
    #[arg(required = true)]
    pub files: Vec<PathBuf>,
    /// Only these properties of a model folder (comma-separated head names, e.g.
    /// `bulk_modulus,band_gap`).
    #[arg(long, value_delimiter = ',')]
    pub property: Vec<String>,
    /// Which variant of a fine-tuning job folder: pretrained, scratch or cgcnn.
    #[arg(long)]
    pub variant: Option<String>,
    /// Which seed of that variant (default: the one with the lowest validation MAE).
    #[arg(long)]
    pub seed: Option<u64>,
    /// Write the predictions here: `.csv` or `.json` (default: a table on stdout).
    #[arg(long)]
    pub out: Option<PathBuf>,
    /// Device: cpu, cuda:N or wgpu:N.
    #[arg(long, default_value = "cpu", value_parser = super::args::DeviceArg)]
    pub device: DeviceSpec,
    /// Structures per forward pass.
    #[arg(long, default_value_t = 64)]
    pub batch_size: usize,
    #[command(flatten)]
    pub input: super::StructureInput,
}

/// One predicted property: its column names (one per output) and units.
struct Column {
    task: String,
    names: Vec<String>,
    units: String,
}

/// The fine-tuned models to run: every (chosen) head of a model folder, or the one model
/// `resolve_model_dir` picks from a job or run folder.
fn predictors(args: &Args, device: &burn::tensor::Device) -> anyhow::Result<Vec<Predictor>> {
    let model = package::resolve_model(args.model.as_deref())?;
    if model.join(PACKAGE_FILE).exists() {
        if args.variant.is_some() || args.seed.is_some() {
            anyhow::bail!(
                "--variant and --seed choose among the runs of a fine-tuning job; {} is a model folder (use --property)",
                model.display()
            );
        }
        let info = PackageInfo::read(&model)?;
        let tasks: Vec<String> = if args.property.is_empty() {
            info.heads.iter().map(|h| h.task.clone()).collect()
        } else {
            args.property.iter().map(|p| p.trim().to_string()).collect()
        };
        if tasks.is_empty() {
            anyhow::bail!(
                "{} has no fine-tuned heads to predict with",
                model.display()
            );
        }
        return tasks
            .iter()
            .map(|t| Ok(Predictor::load(&package::head_dir(&model, t)?, device)?))
            .collect();
    }
    if !args.property.is_empty() {
        anyhow::bail!(
            "--property picks heads of a model folder; {} is a single fine-tuned model or job",
            model.display()
        );
    }
    let variant = match &args.variant {
        Some(v) => Some(
            v.parse::<Variant>()
                .map_err(|e| anyhow::anyhow!("--variant: {e}"))?,
        ),
        None => None,
    };
    let dir = resolve_model_dir(&model, variant, args.seed)?;
    Ok(vec![Predictor::load(&dir, device)?])
}

pub fn run(args: Args) -> anyhow::Result<()> {
    let device = args.device.device()?;
    let predictors = predictors(&args, &device)?;
    // One unreadable or unpredictable file costs only its own row: every file gets a line,
    // with its values or, in the `error` column, why it has none.
    let names: Vec<String> = args.files.iter().map(|f| f.display().to_string()).collect();
    let mut errors: Vec<Option<String>> = vec![None; names.len()];
    let mut readable: Vec<(usize, (String, Structure))> = Vec::new();
    for (i, f) in args.files.iter().enumerate() {
        match args.input.read(f) {
            Ok(s) => readable.push((i, (names[i].clone(), s))),
            Err(e) => errors[i] = Some(format!("{e:#}")),
        }
    }
    let columns: Vec<Column> = predictors
        .iter()
        .map(|p| {
            let c = &p.config;
            let task = c.task.name().to_string();
            let names = if c.outputs == 1 {
                vec![task.clone()]
            } else {
                (0..c.outputs).map(|k| format!("{task}_{k}")).collect()
            };
            Column {
                task,
                names,
                units: c.units.clone(),
            }
        })
        .collect();
    // values[file][predictor] = that predictor's outputs for the file.
    let mut values: Vec<Vec<Option<Vec<f64>>>> = vec![vec![None; predictors.len()]; names.len()];
    let bar = super::progress_bar((readable.len() * predictors.len()) as u64, "predicting");
    for chunk in readable.chunks(args.batch_size.max(1)) {
        let structures: Vec<_> = chunk.iter().map(|(_, s)| s.clone()).collect();
        for (k, predictor) in predictors.iter().enumerate() {
            let predicted: Vec<Prediction> = predictor.predict_each(&structures, args.batch_size);
            for ((i, _), p) in chunk.iter().zip(predicted) {
                match p {
                    Ok(v) => values[*i][k] = Some(v),
                    Err(e) => {
                        errors[*i].get_or_insert(e);
                    }
                }
            }
            bar.inc(chunk.len() as u64);
        }
    }
    bar.finish_and_clear();
    let failed = errors.iter().filter(|e| e.is_some()).count();
    for e in errors.iter().flatten() {
        eprintln!("no prediction for {e}");
    }
    if failed == names.len() {
        anyhow::bail!(
            "none of the {} files got a prediction (reasons above)",
            names.len()
        );
    }
    let models: Vec<String> = predictors
        .iter()
        .map(|p| p.dir.display().to_string())
        .collect();
    match &args.out {
        Some(path) => {
            let text = if is_json(path) {
                json_text(&names, &columns, &values, &errors, &models)?
            } else {
                csv_text(&names, &columns, &values, &errors)
            };
            multimat_crystal::io::write_atomic(path, text.as_bytes())
                .with_context(|| format!("writing {}", path.display()))?;
            eprintln!(
                "{} files × {} properties predicted by {} written to {}{}",
                names.len() - failed,
                columns.len(),
                models.join(", "),
                path.display(),
                if failed > 0 {
                    format!("; {failed} files without a prediction (see the error field)")
                } else {
                    String::new()
                }
            );
        }
        None => {
            std::io::stdout()
                .write_all(table_text(&names, &columns, &values, &errors).as_bytes())?;
            eprintln!("predicted by {}", models.join(", "));
        }
    }
    Ok(())
}

fn is_json(path: &Path) -> bool {
    path.extension()
        .and_then(|e| e.to_str())
        .is_some_and(|e| e.eq_ignore_ascii_case("json"))
}

/// `name (units)` header of a column; elastic-tensor components keep their index.
fn header(name: &str, units: &str) -> String {
    if units.is_empty() {
        name.to_string()
    } else {
        format!("{name} ({units})")
    }
}

/// The values of a file as cells, one per output column (empty where there is none).
fn cells(columns: &[Column], row: &[Option<Vec<f64>>], digits: Option<usize>) -> Vec<String> {
    columns
        .iter()
        .zip(row)
        .flat_map(|(c, v)| match v {
            Some(v) => v
                .iter()
                .map(|x| match digits {
                    Some(d) => format!("{x:.d$}"),
                    None => format!("{x}"),
                })
                .collect::<Vec<_>>(),
            None => vec![String::new(); c.names.len()],
        })
        .collect()
}

fn csv_text(
    names: &[String],
    columns: &[Column],
    values: &[Vec<Option<Vec<f64>>>],
    errors: &[Option<String>],
) -> String {
    let heads: Vec<String> = columns
        .iter()
        .flat_map(|c| c.names.iter().map(|n| csv_field(&header(n, &c.units))))
        .collect();
    let mut text = format!("file,{},error\n", heads.join(","));
    for (i, name) in names.iter().enumerate() {
        text.push_str(&format!(
            "{},{},{}\n",
            csv_field(name),
            cells(columns, &values[i], None).join(","),
            csv_field(errors[i].as_deref().unwrap_or(""))
        ));
    }
    text
}

fn json_text(
    names: &[String],
    columns: &[Column],
    values: &[Vec<Option<Vec<f64>>>],
    errors: &[Option<String>],
    models: &[String],
) -> anyhow::Result<String> {
    let rows: Vec<serde_json::Value> = names
        .iter()
        .enumerate()
        .map(|(i, name)| {
            let mut props = serde_json::Map::new();
            for (c, v) in columns.iter().zip(&values[i]) {
                if let Some(v) = v {
                    let value = if v.len() == 1 {
                        serde_json::json!(v[0])
                    } else {
                        serde_json::json!(v)
                    };
                    props.insert(c.task.clone(), value);
                }
            }
            serde_json::json!({"file": name, "predictions": props, "error": errors[i]})
        })
        .collect();
    let units: serde_json::Map<String, serde_json::Value> = columns
        .iter()
        .map(|c| (c.task.clone(), serde_json::json!(c.units)))
        .collect();
    Ok(serde_json::to_string_pretty(&serde_json::json!({
        "models": models,
        "units": units,
        "rows": rows,
    }))? + "\n")
}

/// An aligned table for the terminal; a multi-output head (the elastic tensor) is shown as
/// its first three components and a count, the CSV/JSON outputs carry all of them.
fn table_text(
    names: &[String],
    columns: &[Column],
    values: &[Vec<Option<Vec<f64>>>],
    errors: &[Option<String>],
) -> String {
    let mut heads = vec!["file".to_string()];
    heads.extend(columns.iter().map(|c| header(&c.task, &c.units)));
    let mut rows: Vec<Vec<String>> = Vec::new();
    for (i, name) in names.iter().enumerate() {
        let mut row = vec![name.clone()];
        for (c, v) in columns.iter().zip(&values[i]) {
            row.push(match v {
                Some(v) if v.len() == 1 => format!("{:.3}", v[0]),
                Some(v) => format!(
                    "[{}, … {} values]",
                    v.iter()
                        .take(3)
                        .map(|x| format!("{x:.1}"))
                        .collect::<Vec<_>>()
                        .join(", "),
                    v.len()
                ),
                None if c.names.is_empty() => String::new(),
                None => "—".into(),
            });
        }
        if errors[i].is_some() {
            row.push("(see the message above)".into());
        }
        rows.push(row);
    }
    let n = heads.len();
    let widths: Vec<usize> = (0..n)
        .map(|k| {
            rows.iter()
                .filter_map(|r| r.get(k))
                .chain(std::iter::once(&heads[k]))
                .map(|s| s.chars().count())
                .max()
                .unwrap_or(0)
        })
        .collect();
    let line = |r: &[String]| {
        r.iter()
            .enumerate()
            .map(|(k, s)| {
                let w = widths.get(k).copied().unwrap_or(0);
                if k == 0 {
                    format!("{s:<w$}")
                } else {
                    format!("{s:>w$}")
                }
            })
            .collect::<Vec<_>>()
            .join("  ")
            + "\n"
    };
    let mut text = line(&heads);
    for r in &rows {
        text.push_str(&line(r));
    }
    text
}

/// A CSV field, quoted when it holds a comma, a quote or a line break.
fn csv_field(s: &str) -> String {
    if s.contains([',', '"', '\n']) {
        format!("\"{}\"", s.replace('"', "\"\""))
    } else {
        s.to_string()
    }
}
