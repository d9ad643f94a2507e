//! Charge densities (and other VASP-style volumetric grids): readers for VASP
//! CHGCAR/AECCAR/LOCPOT/ELFCAR, Gaussian cube and pymatgen `Chgcar` JSON, the exact model input
//! of the reference (spec §1.4: float32 `[1, 32, 32, 32]` in the CHGCAR convention), and a
//! derived promolecular density for structures that have no computed density.
//!
//! # Memory layout
//! Every grid in this module is a flat `Vec` in **VASP order, x fastest**: the value at grid
//! index `(ix, iy, iz)` of an `[nx, ny, nz]` grid is `values[ix + nx * (iy + ny * iz)]`, and it
//! sits at fractional coordinates `(ix/nx, iy/ny, iz/nz)` of the unit cell (point 0 is the
//! origin, the grid is periodic and does not repeat the point at 1). This is the order of the
//! numbers in a CHGCAR file. pymatgen's `data["total"][ix][iy][iz]` (and a row-major reshape to
//! `[nx, ny, nz]`) is the transpose; see [`to_row_major`].
//!
//! # CHGCAR convention
//! A CHGCAR stores ρ·V_cell: the charge density (e/Å³) times the cell volume (Å³), so every value
//! is in electrons and the **grid mean is the number of electrons in the cell** (for a VASP
//! CHGCAR: the valence electrons of the PAW potentials). Cube files are converted to this
//! convention on reading; LOCPOT (eV) and ELFCAR (dimensionless, 0–1) keep their own units.

mod cube;
mod mp_json;
mod promolecular;
mod resample;
mod vasp;

use std::path::Path;

use multimat_crystal::Structure;

use crate::{Error, ErrorKind, Location};

pub use cube::read_cube;
pub use mp_json::read_mp_json;
pub use promolecular::{
    atomic_density, atomic_density_with, promolecular, promolecular_with, AtomicDensity, Shell,
    Shells, DENSITY_CUTOFF,
};
pub use resample::{resample, Resample};
pub use vasp::{read_vasp, read_vasp_as};

/// Bohr radius in Å (CODATA 2022, the value scipy and pymatgen use).
pub const BOHR: f64 = 0.529_177_210_544;

/// Edge of the model's charge-density grid (spec §1.4: `[1, 32, 32, 32]`).
pub const MODEL_GRID: usize = 32;

/// What kind of volumetric file a grid came from; decides the units of the values.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub enum VolumetricKind {
    /// VASP CHGCAR / CHG / PARCHG: ρ·V_cell (electrons), valence (pseudo) density.
    Chgcar,
    /// VASP AECCAR0/1/2: all-electron core (0) or valence (1, 2) density, ρ·V_cell.
    Aeccar,
    /// VASP LOCPOT: local potential in eV (not a density).
    Locpot,
    /// VASP ELFCAR: electron localisation function, dimensionless 0–1 (not a density). For
    /// spin-polarised runs the second block is the spin-down ELF, not a magnetisation.
    Elfcar,
    /// Gaussian cube, converted to the CHGCAR convention (ρ·V_cell, electrons).
    Cube,
    /// pymatgen `Chgcar.as_dict()` JSON as the Materials Project serves it (ρ·V_cell).
    MpJson,
}

impl VolumetricKind {
    /// Guesses the kind from a file name (case-insensitive, `.gz` ignored): `*.cube`, `*.json`,
    /// and names containing CHGCAR, CHG, PARCHG, AECCAR, LOCPOT or ELFCAR.
    pub fn from_name(name: &str) -> Option<Self> {
        let base = name
            .rsplit(['/', '\\'])
            .next()
            .unwrap_or(name)
            .to_ascii_uppercase();
        let base = base.strip_suffix(".GZ").unwrap_or(&base);
        if base.ends_with(".CUBE") || base.ends_with(".CUB") {
            return Some(Self::Cube);
        }
        if base.ends_with(".JSON") {
            return Some(Self::MpJson);
        }
        if base.contains("AECCAR") {
            Some(Self::Aeccar)
        } else if base.contains("LOCPOT") {
            Some(Self::Locpot)
        } else if base.contains("ELFCAR") {
            Some(Self::Elfcar)
        } else if base.contains("CHG") {
            Some(Self::Chgcar)
        } else {
            None
        }
    }

    /// True for the kinds whose values are ρ·V_cell (electrons), i.e. valid model inputs.
    pub fn is_charge_density(self) -> bool {
        !matches!(self, Self::Locpot | Self::Elfcar)
    }
}

/// A periodic volumetric grid over a crystal's unit cell.
#[derive(Debug, Clone, PartialEq)]
pub struct Volumetric {
    /// The crystal (Å). Grid point `(0, 0, 0)` sits at its fractional origin.
    pub structure: Structure,
    /// Grid points along the three lattice vectors `[nx, ny, nz]`.
    pub grid: [usize; 3],
    /// `nx·ny·nz` values in VASP order (x fastest, see the module docs). For charge densities
    /// ρ·V_cell in electrons, so the mean is the electron count.
    pub total: Vec<f64>,
    /// The second block when the file has one: the magnetisation density (ρ↑ − ρ↓)·V_cell of a
    /// spin-polarised CHGCAR, the m_z block of a non-collinear one, the spin-down ELF of an
    /// ELFCAR. Same layout as `total`.
    pub diff: Option<Vec<f64>>,
    pub kind: VolumetricKind,
    /// True when computed here (e.g. [`promolecular`]) rather than read from a calculation.
    pub derived: bool,
}

impl Volumetric {
    /// Number of grid points `nx·ny·nz`.
    pub fn len(&self) -> usize {
        self.grid.iter().product()
    }

    /// True for an empty grid (never produced by the readers).
    pub fn is_empty(&self) -> bool {
        self.len() == 0
    }

    /// Mean of `total`: the electron count in the cell for charge densities.
    pub fn mean(&self) -> f64 {
        mean(&self.total)
    }

    /// Flat index of grid point `(ix, iy, iz)` in VASP order.
    pub fn index(&self, ix: usize, iy: usize, iz: usize) -> usize {
        ix + self.grid[0] * (iy + self.grid[1] * iz)
    }
}

fn mean(values: &[f64]) -> f64 {
    if values.is_empty() {
        return 0.0;
    }
    values.iter().sum::<f64>() / values.len() as f64
}

/// Reads a volumetric file (optionally gzip-compressed): VASP CHGCAR/CHG/PARCHG/AECCAR/LOCPOT/
/// ELFCAR, Gaussian cube or pymatgen `Chgcar` JSON. The format comes from the name
/// ([`VolumetricKind::from_name`]), else from the content: a leading `{` is JSON, a third line
/// of one integer and three numbers followed by three voxel rows is a cube, anything else is
/// read as a VASP file.
pub fn read_volumetric(path: &Path) -> Result<Volumetric, Error> {
    let name = path.display().to_string();
    let text = multimat_crystal::io::read_text(path)?;
    parse_volumetric(&text, &name)
}

/// [`read_volumetric`] on text already in memory; `source_name` is used for format detection
/// and error messages.
pub fn parse_volumetric(text: &str, source_name: &str) -> Result<Volumetric, Error> {
    let kind = VolumetricKind::from_name(source_name).or_else(|| sniff_kind(text));
    match kind {
        Some(VolumetricKind::Cube) => read_cube(text, source_name),
        Some(VolumetricKind::MpJson) => read_mp_json(text, source_name),
        Some(k) => read_vasp_as(text, source_name, k),
        None => read_vasp_as(text, source_name, VolumetricKind::Chgcar),
    }
}

/// Content sniffing for files whose names say nothing.
fn sniff_kind(text: &str) -> Option<VolumetricKind> {
    if text.trim_start().starts_with('{') {
        return Some(VolumetricKind::MpJson);
    }
    let mut lines = text.lines().skip(2);
    let is_count_and_vector = |line: Option<&str>| {
        let Some(line) = line else { return false };
        let t: Vec<&str> = line.split_whitespace().collect();
        t.len() >= 4
            && t[0].parse::<i64>().is_ok()
            && t[1..4].iter().all(|x| x.parse::<f64>().is_ok())
    };
    if (0..4).all(|_| is_count_and_vector(lines.next())) {
        return Some(VolumetricKind::Cube);
    }
    None
}

/// The charge-density model input (spec §1.4): `total` in the CHGCAR convention (ρ·V_cell,
/// electrons; no normalisation, no log) resampled to a 32×32×32 grid over the unit cell, as a
/// flat `Vec<f32>` of 32768 values = tensor `[1, 32, 32, 32]`.
///
/// The sample points are the fractional coordinates `(i/32, j/32, k/32)` for `i, j, k` in
/// `0..32`, point 0 at the cell origin as on a VASP grid; value `(i, j, k)` is at flat index
/// `i + 32 * (j + 32 * k)` (VASP order, x fastest). A row-major reshape of this vector to
/// `[1, 32, 32, 32]` therefore indexes `[0][k][j][i]`; use [`to_row_major`] for pymatgen's
/// `[i][j][k]` order.
///
/// `method` is [`Resample::Fourier`] (periodic band-limited interpolation; preserves the mean,
/// may ring negative near sharp peaks as the reference tensors do) or [`Resample::Trilinear`].
/// LOCPOT and ELFCAR grids are refused: they are not charge densities.
pub fn model_input(v: &Volumetric, method: Resample) -> Result<Vec<f32>, Error> {
    if !v.kind.is_charge_density() {
        return Err(Error::new(
            "volumetric data",
            Location::File,
            ErrorKind::Unsupported(format!(
                "{:?} grids are not charge densities; the model input needs a CHGCAR-like density",
                v.kind
            )),
        ));
    }
    let out = resample(&v.total, v.grid, [MODEL_GRID; 3], method)?;
    Ok(out.into_iter().map(|x| x as f32).collect())
}

/// Reorders a VASP-order (x fastest) grid to row-major `[ix][iy][iz]` order (z fastest), the
/// layout of pymatgen's `data["total"]` and of a NumPy/PyTorch array of shape `[nx, ny, nz]`.
pub fn to_row_major<T: Copy>(values: &[T], grid: [usize; 3]) -> Vec<T> {
    let [nx, ny, nz] = grid;
    let mut out = Vec::with_capacity(values.len());
    for ix in 0..nx {
        for iy in 0..ny {
            for iz in 0..nz {
                out.push(values[ix + nx * (iy + ny * iz)]);
            }
        }
    }
    out
}

/// Pearson correlation coefficient of two equally long grids; `None` when the lengths differ,
/// they are empty or either is constant.
pub fn pearson(a: &[f64], b: &[f64]) -> Option<f64> {
    if a.len() != b.len() || a.is_empty() {
        return None;
    }
    let (ma, mb) = (mean(a), mean(b));
    let (mut sab, mut saa, mut sbb) = (0.0, 0.0, 0.0);
    for (&x, &y) in a.iter().zip(b) {
        let (dx, dy) = (x - ma, y - mb);
        sab += dx * dy;
        saa += dx * dx;
        sbb += dy * dy;
    }
    if saa <= 0.0 || sbb <= 0.0 {
        return None;
    }
    Some(sab / (saa * sbb).sqrt())
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn kind_from_name() {
        assert_eq!(
            VolumetricKind::from_name("run/CHGCAR.gz"),
            Some(VolumetricKind::Chgcar)
        );
        assert_eq!(
            VolumetricKind::from_name("AECCAR2"),
            Some(VolumetricKind::Aeccar)
        );
        assert_eq!(
            VolumetricKind::from_name("x/pymatgen_LOCPOT.Li.gz"),
            Some(VolumetricKind::Locpot)
        );
        assert_eq!(
            VolumetricKind::from_name("ELFCAR"),
            Some(VolumetricKind::Elfcar)
        );
        assert_eq!(
            VolumetricKind::from_name("elec.cube.gz"),
            Some(VolumetricKind::Cube)
        );
        assert_eq!(
            VolumetricKind::from_name("mp-149_chgcar.json"),
            Some(VolumetricKind::MpJson)
        );
        assert_eq!(VolumetricKind::from_name("density.dat"), None);
    }

    #[test]
    fn row_major_transpose() {
        // 2x3x1 grid: VASP order is x fastest.
        let v = [0, 1, 2, 3, 4, 5];
        assert_eq!(to_row_major(&v, [2, 3, 1]), vec![0, 2, 4, 1, 3, 5]);
    }

    #[test]
    fn pearson_basics() {
        let a = [1.0, 2.0, 3.0, 4.0];
        assert!((pearson(&a, &[2.0, 4.0, 6.0, 8.0]).unwrap() - 1.0).abs() < 1e-12);
        assert!((pearson(&a, &[-1.0, -2.0, -3.0, -4.0]).unwrap() + 1.0).abs() < 1e-12);
        assert_eq!(pearson(&a, &[1.0; 4]), None);
        assert_eq!(pearson(&a, &[1.0; 3]), None);
    }
}
