//! Gaussian cube files (Gaussian, CP2K, Quantum ESPRESSO `pp.x`, Bader tools).
//!
//! Layout: two comment lines; `natoms ox oy oz` (origin); three voxel rows `n_i vx vy vz`; one
//! line per atom `Z charge x y z`; then `n1·n2·n3` values with the **third index fastest**.
//! A positive voxel count means lengths in bohr, a negative one Å (Gaussian convention; the sign
//! of the first count decides for the whole file). A negative `natoms` announces an extra
//! orbital-id line after the atoms.
//!
//! Conversion to this module's conventions:
//! * lattice vector i = |n_i| × voxel vector i (bohr → Å), so the grid spans one unit cell;
//! * atoms are placed relative to the grid origin (as pymatgen's `VolumetricData.from_cube`
//!   does), so grid point 0 is fractional (0, 0, 0) as on a VASP grid;
//! * values are reordered to VASP order (x fastest) and multiplied by the cell volume in the
//!   file's length unit: ρ (e/bohr³) × V (bohr³) = ρ·V_cell in electrons (CHGCAR convention).

use multimat_crystal::{element, Lattice, Site, Structure};

use super::vasp::{floats, Lines, Scanner};
use super::{Volumetric, VolumetricKind, BOHR};
use crate::{Error, ErrorKind, Location};

/// Reads a Gaussian cube file into the CHGCAR convention (see the module docs).
pub fn read_cube(text: &str, source_name: &str) -> Result<Volumetric, Error> {
    let err = |line: usize, kind: ErrorKind| Error::new(source_name, Location::Line(line), kind);
    let mut lines = Lines::new(text);
    lines.expect(source_name, "first comment line")?;
    lines.expect(source_name, "second comment line")?;

    let (no, line) = lines.expect(source_name, "atom count and origin")?;
    let toks: Vec<&str> = line.split_ascii_whitespace().collect();
    let natoms: i64 = toks.first().and_then(|t| t.parse().ok()).ok_or_else(|| {
        err(
            no,
            ErrorKind::InvalidNumber {
                what: "atom count".into(),
                found: toks.first().unwrap_or(&"").to_string(),
            },
        )
    })?;
    if let Some(nval) = toks.get(4).and_then(|t| t.parse::<i64>().ok()) {
        if nval != 1 {
            return Err(err(
                no,
                ErrorKind::Unsupported(format!(
                    "{nval} values per voxel; only one (a density) is supported"
                )),
            ));
        }
    }
    let origin = floats(&toks[1..].join(" "), 3, no, "grid origin", source_name)?;

    let mut counts = [0i64; 3];
    let mut voxels = [[0.0; 3]; 3];
    for axis in 0..3 {
        let (no, line) = lines.expect(source_name, "voxel rows")?;
        let toks: Vec<&str> = line.split_ascii_whitespace().collect();
        counts[axis] = toks
            .first()
            .and_then(|t| t.parse().ok())
            .filter(|&c: &i64| c != 0)
            .ok_or_else(|| {
                err(
                    no,
                    ErrorKind::InvalidNumber {
                        what: format!("voxel count {}", axis + 1),
                        found: toks.first().unwrap_or(&"").to_string(),
                    },
                )
            })?;
        let v = floats(&toks[1..].join(" "), 3, no, "voxel vector", source_name)?;
        voxels[axis].copy_from_slice(&v);
    }
    // Gaussian: a negative count means Å. Mixed signs do not occur in practice; the first decides.
    let unit = if counts[0] < 0 { 1.0 } else { BOHR };
    let grid = counts.map(|c| c.unsigned_abs() as usize);
    let mut matrix = [[0.0; 3]; 3];
    for axis in 0..3 {
        for c in 0..3 {
            matrix[axis][c] = voxels[axis][c] * grid[axis] as f64 * unit;
        }
    }
    let lattice = Lattice::new(matrix).map_err(|k| err(4, k))?;

    let mut sites = Vec::with_capacity(natoms.unsigned_abs() as usize);
    for _ in 0..natoms.unsigned_abs() {
        let (no, line) = lines.expect(source_name, "atom lines")?;
        let v = floats(line, 5, no, "atom line (Z, charge, x, y, z)", source_name)?;
        let z = v[0].round();
        if !(1.0..=255.0).contains(&z) || element(z as u8).is_none() {
            return Err(err(
                no,
                ErrorKind::UnknownElement(format!("atomic number {}", v[0])),
            ));
        }
        let cart = [0, 1, 2].map(|c| (v[2 + c] - origin[c]) * unit);
        sites.push(Site::ordered(z as u8, lattice.to_fractional(cart)));
    }
    if natoms < 0 {
        let (no, line) = lines.expect(source_name, "orbital id line")?;
        let m = line
            .split_ascii_whitespace()
            .next()
            .and_then(|t| t.parse::<i64>().ok())
            .unwrap_or(0);
        if m != 1 {
            return Err(err(
                no,
                ErrorKind::Unsupported(format!(
                    "{m} orbitals in one cube file; only one data set is supported"
                )),
            ));
        }
    }

    let n = grid.iter().product::<usize>();
    let mut scanner = Scanner::at(text, lines.pos, lines.line);
    let mut raw = Vec::with_capacity(n);
    scanner.read_values(n, &mut raw, grid, 1, source_name)?;
    let trailing = text[scanner.pos..].trim_start();
    if !trailing.is_empty() {
        let first = trailing.split_ascii_whitespace().next().unwrap_or("");
        let ahead = text[scanner.pos..].len() - trailing.len();
        let line = scanner.line + text[scanner.pos..scanner.pos + ahead].matches('\n').count();
        return Err(err(line, ErrorKind::Syntax(format!("more than {n} grid values (next: {first:?}); only one data set per cube file is supported"))));
    }

    // Values in the file's length unit: ρ [e/unit³] × V [unit³] = electrons.
    let volume = lattice.volume() / unit.powi(3);
    let [nx, ny, nz] = grid;
    let mut total = vec![0.0; n];
    for ix in 0..nx {
        for iy in 0..ny {
            let row = &raw[(ix * ny + iy) * nz..(ix * ny + iy + 1) * nz];
            for (iz, &value) in row.iter().enumerate() {
                total[ix + nx * (iy + ny * iz)] = value * volume;
            }
        }
    }
    Ok(Volumetric {
        structure: Structure::new(lattice, sites),
        grid,
        total,
        diff: None,
        kind: VolumetricKind::Cube,
        derived: false,
    })
}
