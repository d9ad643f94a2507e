//! `multimat inspect`: a readable (or JSON) summary of a structure, DOS or volumetric file,
//! whose kind is told by the same sniffer as `data import`'s.

use std::collections::BTreeMap;
use std::path::{Path, PathBuf};

use multimat_crystal::neighbors::neighbors_within;
use multimat_crystal::{analyze, Structure};
use multimat_import::FileKind;
use serde_json::{json, Value};

use super::StructureInput;

#[derive(clap::Args)]
pub struct Args {
    /// Structure (CIF, POSCAR, pymatgen JSON, extended XYZ), DOS (pymatgen/MP JSON, vasprun.xml,
    /// DOSCAR, phonon DOS) or volumetric file (CHGCAR, AECCAR, LOCPOT, ELFCAR, cube, MP Chgcar JSON).
    file: PathBuf,
    /// Print one JSON object instead of a readable summary.
    #[arg(long)]
    json: bool,
    /// Also count the neighbours of each site within this radius (Å).
    #[arg(long, value_name = "R")]
    neighbors: Option<f64>,
    /// Symmetry tolerance in Å (pymatgen's default).
    #[arg(long, default_value_t = multimat_crystal::DEFAULT_SYMPREC)]
    symprec: f64,
    #[command(flatten)]
    input: StructureInput,
}

/// Which summary a file gets.
#[derive(Debug, PartialEq)]
enum Summary {
    Structure,
    Dos,
    Volumetric,
}

/// The summary for the file at `path`: its kind from the sniffer `data import` uses
/// ([`multimat_import::file_kind`]), and for JSON its top-level keys. Any grid (a LOCPOT too)
/// is summarised as volumetric; files of no other kind are read as structures.
fn summary_kind(path: &Path) -> anyhow::Result<Summary> {
    match multimat_import::file_kind(path) {
        FileKind::Volumetric(_) => Ok(Summary::Volumetric),
        FileKind::Dos => Ok(Summary::Dos),
        FileKind::Json => json_kind(path),
        FileKind::Structure | FileKind::Csv | FileKind::Unknown => Ok(Summary::Structure),
    }
}

/// A JSON file's summary from its `@class` and top-level keys.
fn json_kind(path: &Path) -> anyhow::Result<Summary> {
    let text = multimat_crystal::io::read_text(path)?;
    let value: Value = match serde_json::from_str(&text) {
        Ok(v) => v,
        // Let the structure reader report the JSON error with its location.
        Err(_) => return Ok(Summary::Structure),
    };
    let class = value.get("@class").and_then(Value::as_str).unwrap_or("");
    if class == "Chgcar" || value.pointer("/data/total").is_some() {
        return Ok(Summary::Volumetric);
    }
    if class.contains("Dos")
        || ["densities", "spin_up_densities", "frequencies", "total_dos"]
            .iter()
            .any(|k| value.get(*k).is_some())
    {
        return Ok(Summary::Dos);
    }
    Ok(Summary::Structure)
}

pub fn run(args: Args) -> anyhow::Result<()> {
    let report = match summary_kind(&args.file)? {
        Summary::Structure => {
            let structure = args.input.read(&args.file)?;
            structure_report(&structure, &args)?
        }
        Summary::Dos => super::modality::dos_report(&args.file)?,
        Summary::Volumetric => super::modality::volumetric_report(&args.file)?,
    };
    if args.json {
        println!("{}", serde_json::to_string_pretty(&report)?);
    } else {
        print_readable(&report, 0);
    }
    Ok(())
}

fn structure_report(structure: &Structure, args: &Args) -> anyhow::Result<Value> {
    let source = args.file.display().to_string();
    let p = structure.lattice.parameters();
    let composition: BTreeMap<String, f64> = structure.composition();
    let spacegroup = match analyze(structure, args.symprec, &source) {
        Ok(info) => json!({
            "number": info.number,
            "symbol": info.symbol,
            "crystal_system": info.crystal_system.name(),
        }),
        Err(err) => {
            json!({"number": null, "symbol": null, "crystal_system": null, "error": err.to_string()})
        }
    };
    let mut report = json!({
        "kind": "structure",
        "formula": structure.reduced_formula(),
        "composition": composition,
        "nsites": structure.num_sites(),
        "lattice": {"a": p.a, "b": p.b, "c": p.c, "alpha": p.alpha, "beta": p.beta, "gamma": p.gamma, "volume": p.volume},
        "density": structure.density(),
        "spacegroup": spacegroup,
        "ordered": structure.is_ordered(),
    });
    if let Some(radius) = args.neighbors {
        if !(radius.is_finite() && radius > 0.0) {
            anyhow::bail!("--neighbors must be a positive radius in Å, got {radius}");
        }
        let counts: Vec<usize> =
            neighbors_within(&structure.lattice, &structure.cart_coords(), radius, 0.0)
                .iter()
                .map(Vec::len)
                .collect();
        report["neighbors"] = json!(counts);
    }
    Ok(report)
}

/// Prints a JSON report as an indented, human-readable outline.
pub fn print_readable(value: &Value, indent: usize) {
    let pad = "  ".repeat(indent);
    match value {
        Value::Object(map) => {
            for (key, v) in map {
                match v {
                    Value::Object(_) => {
                        println!("{pad}{key}:");
                        print_readable(v, indent + 1);
                    }
                    _ => println!("{pad}{key}: {}", inline(v)),
                }
            }
        }
        other => println!("{pad}{}", inline(other)),
    }
}

fn inline(v: &Value) -> String {
    match v {
        Value::Number(n) => match n.as_f64() {
            Some(x) if n.is_f64() => format!("{x:.4}"),
            _ => n.to_string(),
        },
        Value::String(s) => s.clone(),
        Value::Array(items) => items.iter().map(inline).collect::<Vec<_>>().join(", "),
        other => other.to_string(),
    }
}
