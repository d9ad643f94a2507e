use std::path::{Path, PathBuf};

use clap::ValueEnum;
use multimat_modalities::charge_density::{self, Resample, Volumetric, MODEL_GRID};
use multimat_modalities::dos::{self, DosInputOptions, SpectrumKind, SpinChannel};
use multimat_modalities::npy::write_npy_f32;
use serde_json::{json, Value};

use super::StructureInput;

#[derive(clap::Subcommand)]
pub enum Command {
    /// DOS → the reference's [2, 601] float32 input (row 0: E − E_F in eV, row 1: states/eV).
    Dos(DosArgs),
    /// Charge density → [1, 32, 32, 32] float32 in the CHGCAR convention (ρ·V, electrons),
    /// stored [0][ix][iy][iz] like pymatgen's `data["total"]`.
    Density(DensityArgs),
}

#[derive(Clone, Copy, ValueEnum)]
enum Spin {
    /// Spin-up channel only (the reference).
    Up,
    /// Spin up + spin down.
    Sum,
}

#[derive(clap::Args)]
pub struct DosArgs {
    /// pymatgen/MP DOS JSON, vasprun.xml, DOSCAR or pymatgen PhononDos JSON (.gz accepted).
    file: PathBuf,
    /// Output .npy file.
    #[arg(long)]
    out: PathBuf,
    #[arg(long, value_enum, default_value = "up")]
    spin: Spin,
    /// Fermi energy (eV) to shift by instead of the file's (the reference uses MP's summary E_F).
    #[arg(long)]
    efermi: Option<f64>,
}

#[derive(Clone, Copy, ValueEnum)]
enum Method {
    /// Periodic band-limited (FFT) interpolation.
    Fourier,
    /// Periodic trilinear interpolation.
    Trilinear,
}

#[derive(clap::Args)]
pub struct DensityArgs {
    /// CHGCAR/AECCAR, Gaussian cube or MP Chgcar JSON; with --derived, a structure file.
    file: PathBuf,
    /// Output .npy file.
    #[arg(long)]
    out: PathBuf,
    /// Compute the promolecular (superposed neutral-atom valence) density of a structure instead
    /// of reading a DFT density; the result is marked derived.
    #[arg(long)]
    derived: bool,
    #[arg(long, value_enum, default_value = "fourier")]
    resample: Method,
    #[command(flatten)]
    input: StructureInput,
}

pub fn run(cmd: Command) -> anyhow::Result<()> {
    match cmd {
        Command::Dos(args) => {
            let d = dos::read_dos(&args.file)?;
            let options = DosInputOptions {
                spin: match args.spin {
                    Spin::Up => SpinChannel::Up,
                    Spin::Sum => SpinChannel::Sum,
                },
                efermi: args.efermi,
                ..Default::default()
            };
            let input = dos::model_input(&d, &options)?;
            write_npy_f32(&args.out, &[2, dos::DOS_INPUT_LEN], &input.to_rows())?;
            eprintln!(
                "wrote {} [2, {}] ({:?}, {} points in the file)",
                args.out.display(),
                dos::DOS_INPUT_LEN,
                input.resampling,
                d.npoints()
            );
        }
        Command::Density(args) => {
            let volumetric = if args.derived {
                let structure = args.input.read(&args.file)?;
                charge_density::promolecular(&structure, [MODEL_GRID; 3])?
            } else {
                charge_density::read_volumetric(&args.file)?
            };
            let method = match args.resample {
                Method::Fourier => Resample::Fourier,
                Method::Trilinear => Resample::Trilinear,
            };
            let grid = charge_density::model_input(&volumetric, method).map_err(|mut e| {
                e.source_name = args.file.display().to_string();
                e
            })?;
            let row_major = charge_density::to_row_major(&grid, [MODEL_GRID; 3]);
            write_npy_f32(
                &args.out,
                &[1, MODEL_GRID, MODEL_GRID, MODEL_GRID],
                &row_major,
            )?;
            let mean = grid.iter().map(|&x| x as f64).sum::<f64>() / grid.len() as f64;
            eprintln!(
                "wrote {} [1, 32, 32, 32]{} from a {:?} grid; mean {:.4} electrons",
                args.out.display(),
                if volumetric.derived {
                    " (derived promolecular density)"
                } else {
                    ""
                },
                volumetric.grid,
                mean
            );
        }
    }
    Ok(())
}

/// `inspect --json` for DOS files.
pub fn dos_report(path: &Path) -> anyhow::Result<Value> {
    let d = dos::read_dos(path)?;
    let (kind, unit) = match d.kind {
        SpectrumKind::Electronic => ("dos", "eV"),
        SpectrumKind::Phonon { unit } => (
            "phonon_dos",
            match unit {
                dos::FrequencyUnit::Thz => "THz",
                dos::FrequencyUnit::InverseCm => "cm^-1",
            },
        ),
    };
    Ok(json!({
        "kind": kind,
        "npoints": d.npoints(),
        "efermi": d.efermi,
        "spin_polarized": d.spin_polarized(),
        "energy_min": d.energies.first(),
        "energy_max": d.energies.last(),
        "unit": unit,
        "window": d.fermi_window_integral(5.0),
    }))
}

/// `inspect --json` for volumetric files.
pub fn volumetric_report(path: &Path) -> anyhow::Result<Value> {
    let v: Volumetric = charge_density::read_volumetric(path)?;
    Ok(json!({
        "kind": "volumetric",
        "volumetric_kind": format!("{:?}", v.kind),
        "grid": v.grid,
        "composition": v.structure.composition(),
        "formula": v.structure.reduced_formula(),
        "electrons": v.mean(),
        "spin_polarized": v.diff.is_some(),
        "derived": v.derived,
    }))
}
