//! Derived (promolecular) valence charge density: a superposition of neutral, spherical atomic
//! densities, for structures without a computed CHGCAR.
//!
//! # Physical model
//! Each atom is described by Slater-type orbitals (J. C. Slater, Phys. Rev. 36, 57 (1930)):
//! `R(r) = N r^(n*−1) e^(−ζ r)`, `N² = (2ζ)^(2n*+1) / Γ(2n*+1)`, with Slater's effective
//! principal quantum number n* (1, 2, 3, 3.7, 4.0, 4.2 for n = 1…6; 4.3 for n = 7, an
//! extrapolation Slater did not tabulate) and exponent `ζ = (Z − s)/n*` (bohr⁻¹) from Slater's
//! screening rules applied to the element's full ground-state configuration
//! (`multimat_crystal::element(z).configuration`, noble-gas cores expanded). Grouping
//! (1s)(2s,2p)(3s,3p)(3d)(4s,4p)(4d)(4f)(5s,5p)(5d)(5f)(6s,6p)(6d)(7s,7p); an electron is
//! screened by 0.35 per other electron of its group (0.30 within 1s); for an (s,p) group by 0.85
//! per electron with principal number n−1 and 1.00 per electron further in; for a (d) or (f)
//! group by 1.00 per electron in every group to its left. The spherical density of a shell with
//! occupation `q` is `q |R(r)|² / 4π`.
//!
//! # Valence only
//! A VASP CHGCAR holds only the valence (PAW pseudo) density, so the comparable derived density
//! uses only the **valence shells: those written after the noble-gas core** of the configuration
//! (`[Ar].3d6.4s2` → 3d⁶4s², 8 electrons for Fe; H and He use their 1s). This count equals
//! `element(z).valence_electrons`; it matches the standard VASP PAW set for most elements
//! (Li 1, O 6, Na 1, Si 4, Cl 7, Fe 8) but differs where VASP freezes a filled shell (e.g. Pb's
//! 4f¹⁴) or adds semicore states (`_sv`, `_pv`). The core electrons still screen the valence
//! shells through ζ. STOs are nodeless, like pseudo-orbitals, which is why this model resembles
//! a PAW pseudo density more than an all-electron one would.
//!
//! # Convention and grid
//! The result is in the CHGCAR convention, ρ·V_cell (electrons), on the VASP grid (point
//! `(i, j, k)` at fractional `(i/nx, j/ny, k/nz)`, x fastest). Atoms are summed over all periodic
//! images out to the radius beyond which their density stays below [`DENSITY_CUTOFF`]; partially
//! occupied sites contribute each species weighted by its occupancy (a disordered site with
//! Fe 0.5 / Ni 0.5 adds half an Fe and half a Ni atom, vacancies add nothing). The grid mean
//! converges to the valence electron count as the grid resolves the atomic densities (a coarse
//! grid under-samples sharp 2p/3d peaks).

use std::collections::{BTreeMap, HashMap};

use multimat_crystal::element::{element, z_of_symbol};
use multimat_crystal::Structure;

use super::{Volumetric, VolumetricKind, BOHR};
use crate::{Error, ErrorKind, Location};

/// Density (e/Å³) below which an atom's tail is cut off.
pub const DENSITY_CUTOFF: f64 = 1e-8;

/// Points in each atom's tabulated radial density (linear interpolation in r); core shells
/// decay ~Z times faster than valence ones and need the finer table.
const TABLE_POINTS: usize = 8192;
const TABLE_POINTS_ALL_ELECTRON: usize = 65536;

/// Which electrons the atomic densities hold.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default)]
pub enum Shells {
    /// The shells outside the noble-gas core (comparable with a VASP CHGCAR).
    #[default]
    Valence,
    /// Every electron (comparable with an all-electron AECCAR0 + AECCAR2 sum, the reference
    /// density of Bader analyses). Point-sampling the core cusps on an ordinary grid is
    /// inaccurate: the grid mean can be far from Z.
    AllElectron,
}

/// Slater's groups in screening order: (principal n, 0 = s/p, 1 = d, 2 = f).
const SLATER_ORDER: [(u8, u8); 13] = [
    (1, 0),
    (2, 0),
    (3, 0),
    (3, 1),
    (4, 0),
    (4, 1),
    (4, 2),
    (5, 0),
    (5, 1),
    (5, 2),
    (6, 0),
    (6, 1),
    (7, 0),
];

/// One occupied subshell with its Slater-type orbital.
#[derive(Debug, Clone, PartialEq)]
pub struct Shell {
    /// Principal quantum number.
    pub n: u8,
    /// Angular momentum (0 = s, 1 = p, 2 = d, 3 = f).
    pub l: u8,
    /// Electrons in the subshell.
    pub occupancy: f64,
    /// Slater's effective principal quantum number n*.
    pub n_eff: f64,
    /// Orbital exponent ζ = (Z − s)/n* in bohr⁻¹.
    pub zeta: f64,
}

/// The spherical valence density of one neutral atom (see the module docs).
#[derive(Debug, Clone)]
pub struct AtomicDensity {
    pub z: u8,
    /// The valence shells whose densities are summed.
    pub shells: Vec<Shell>,
    /// Radius (Å) beyond which the density stays below [`DENSITY_CUTOFF`].
    pub cutoff: f64,
    /// ρ (e/Å³) at r = i·step, i = 0…TABLE_POINTS−1.
    table: Vec<f64>,
    step: f64,
}

impl AtomicDensity {
    /// Electrons in the valence shells.
    pub fn electrons(&self) -> f64 {
        self.shells.iter().map(|s| s.occupancy).sum()
    }

    /// Exact density in e/Å³ at distance `r` Å from the nucleus.
    pub fn density(&self, r: f64) -> f64 {
        let r_bohr = r / BOHR;
        let per_bohr3: f64 = self
            .shells
            .iter()
            .map(|s| {
                let norm2 = (2.0 * s.zeta).powf(2.0 * s.n_eff + 1.0) / gamma(2.0 * s.n_eff + 1.0);
                s.occupancy
                    * norm2
                    * r_bohr.powf(2.0 * s.n_eff - 2.0)
                    * (-2.0 * s.zeta * r_bohr).exp()
            })
            .sum();
        per_bohr3 / (4.0 * std::f64::consts::PI) / BOHR.powi(3)
    }

    /// Tabulated density (e/Å³), zero beyond the cutoff.
    #[inline]
    fn lookup(&self, r: f64) -> f64 {
        let x = r / self.step;
        let i = x as usize;
        if i + 1 >= self.table.len() {
            return 0.0;
        }
        let w = x - i as f64;
        self.table[i] + w * (self.table[i + 1] - self.table[i])
    }
}

/// Γ(x) for x > 0 (Lanczos, g = 7; relative error ~1e-15).
fn gamma(x: f64) -> f64 {
    const G: f64 = 7.0;
    const C: [f64; 9] = [
        0.999_999_999_999_809_9,
        676.520_368_121_885_1,
        -1_259.139_216_722_402_8,
        771.323_428_777_653_1,
        -176.615_029_162_140_6,
        12.507_343_278_686_905,
        -0.138_571_095_265_720_12,
        9.984_369_578_019_572e-6,
        1.505_632_735_149_311_6e-7,
    ];
    if x < 0.5 {
        return std::f64::consts::PI / ((std::f64::consts::PI * x).sin() * gamma(1.0 - x));
    }
    let x = x - 1.0;
    let mut a = C[0];
    let t = x + G + 0.5;
    for (i, c) in C.iter().enumerate().skip(1) {
        a += c / (x + i as f64);
    }
    (2.0 * std::f64::consts::PI).sqrt() * t.powf(x + 0.5) * (-t).exp() * a
}

/// `(n, l, occupancy)` of every subshell in a configuration string such as `[Ar].3d6.4s2`;
/// the bool marks the shells outside the noble-gas core.
fn expand_configuration(z: u8) -> Option<Vec<(u8, u8, f64, bool)>> {
    let config = element(z)?.configuration;
    let mut shells = Vec::new();
    for (i, tok) in config.split('.').enumerate() {
        let tok = tok.trim();
        if let Some(core) = tok.strip_prefix('[').and_then(|t| t.strip_suffix(']')) {
            if i != 0 {
                return None;
            }
            let core_z = z_of_symbol(core).filter(|&cz| cz < z)?;
            shells.extend(
                expand_configuration(core_z)?
                    .into_iter()
                    .map(|(n, l, q, _)| (n, l, q, false)),
            );
            continue;
        }
        let digits = tok.bytes().take_while(u8::is_ascii_digit).count();
        let n: u8 = tok[..digits].parse().ok()?;
        let l = match tok.as_bytes().get(digits)? {
            b's' => 0,
            b'p' => 1,
            b'd' => 2,
            b'f' => 3,
            _ => return None,
        };
        let q: f64 = tok[digits + 1..].parse().ok()?;
        shells.push((n, l, q, true));
    }
    Some(shells)
}

fn slater_group(n: u8, l: u8) -> Option<(u8, u8)> {
    let g = (n, l.saturating_sub(1));
    SLATER_ORDER.contains(&g).then_some(g)
}

fn slater_n_eff(n: u8) -> f64 {
    match n {
        1 => 1.0,
        2 => 2.0,
        3 => 3.0,
        4 => 3.7,
        5 => 4.0,
        6 => 4.2,
        _ => 4.3,
    }
}

/// The valence density of element `z` from Slater's rules (see the module docs).
pub fn atomic_density(z: u8) -> Result<AtomicDensity, Error> {
    atomic_density_with(z, Shells::Valence)
}

/// The density of element `z` from Slater's rules, valence or all-electron.
pub fn atomic_density_with(z: u8, which: Shells) -> Result<AtomicDensity, Error> {
    let fail = |why: String| {
        Error::new(
            "promolecular density",
            Location::File,
            ErrorKind::UnknownElement(why),
        )
    };
    let shells = expand_configuration(z)
        .ok_or_else(|| fail(format!("Z = {z} (no parsable ground-state configuration)")))?;
    // Electrons per Slater group, for screening. Ordered: the screening sum below adds in
    // iteration order, and a HashMap's per-instance random order moved the last bits of the
    // density from run to run.
    let mut groups: BTreeMap<(u8, u8), f64> = BTreeMap::new();
    for &(n, l, q, _) in &shells {
        let g = slater_group(n, l).ok_or_else(|| {
            fail(format!(
                "Z = {z}: subshell n={n} l={l} outside Slater's groups"
            ))
        })?;
        *groups.entry(g).or_default() += q;
    }
    let rank = |g: (u8, u8)| {
        SLATER_ORDER
            .iter()
            .position(|&o| o == g)
            .unwrap_or(usize::MAX)
    };
    let mut valence = Vec::new();
    for &(n, l, q, is_valence) in &shells {
        if !is_valence && which == Shells::Valence && z > 2 {
            continue;
        }
        let g = slater_group(n, l).ok_or_else(|| fail(format!("Z = {z}: subshell n={n} l={l}")))?;
        let mut s = 0.0;
        for (&h, &count) in &groups {
            s += if h == g {
                (count - 1.0).max(0.0) * if n == 1 { 0.30 } else { 0.35 }
            } else if g.1 == 0 {
                if h.0 + 1 == n {
                    0.85 * count
                } else if h.0 + 1 < n {
                    count
                } else {
                    0.0
                }
            } else if rank(h) < rank(g) {
                count
            } else {
                0.0
            };
        }
        let n_eff = slater_n_eff(n);
        valence.push(Shell {
            n,
            l,
            occupancy: q,
            n_eff,
            zeta: (z as f64 - s) / n_eff,
        });
    }
    if valence.is_empty() || valence.iter().any(|s| s.zeta.is_nan() || s.zeta <= 0.0) {
        return Err(fail(format!(
            "Z = {z}: no valence shells with a positive Slater exponent"
        )));
    }
    let mut atom = AtomicDensity {
        z,
        shells: valence,
        cutoff: 0.0,
        table: Vec::new(),
        step: 0.0,
    };
    // Beyond the outermost maximum, r^(2n*-2) e^(-2ζr) only decreases: walk out from there.
    let r_peak = atom
        .shells
        .iter()
        .map(|s| (s.n_eff - 1.0) / s.zeta * BOHR)
        .fold(0.0, f64::max);
    let mut r = r_peak;
    while atom.density(r) >= DENSITY_CUTOFF {
        r += 0.01;
    }
    atom.cutoff = r;
    let points = if which == Shells::Valence {
        TABLE_POINTS
    } else {
        TABLE_POINTS_ALL_ELECTRON
    };
    atom.step = r / (points - 1) as f64;
    atom.table = (0..points)
        .map(|i| atom.density(i as f64 * atom.step))
        .collect();
    *atom.table.last_mut().unwrap_or(&mut 0.0) = 0.0;
    Ok(atom)
}

/// Promolecular valence density of `structure` on a `grid` (see the module docs), in the CHGCAR
/// convention (ρ·V_cell, electrons), with `derived: true` and kind [`VolumetricKind::Chgcar`].
pub fn promolecular(structure: &Structure, grid: [usize; 3]) -> Result<Volumetric, Error> {
    promolecular_with(structure, grid, Shells::Valence)
}

/// [`promolecular`] with a choice of valence-only or all-electron atomic densities.
pub fn promolecular_with(
    structure: &Structure,
    grid: [usize; 3],
    which: Shells,
) -> Result<Volumetric, Error> {
    if grid.contains(&0) {
        return Err(Error::new(
            "promolecular density",
            Location::File,
            ErrorKind::Syntax(format!("empty grid {grid:?}")),
        ));
    }
    let [nx, ny, nz] = grid;
    let mut total = vec![0.0; nx * ny * nz];
    let m = *structure.lattice.matrix();
    let widths = structure.lattice.perpendicular_widths();
    let step = [0, 1, 2].map(|a| {
        [
            m[a][0] / grid[a] as f64,
            m[a][1] / grid[a] as f64,
            m[a][2] / grid[a] as f64,
        ]
    });
    let dot = |u: [f64; 3], v: [f64; 3]| u[0] * v[0] + u[1] * v[1] + u[2] * v[2];
    let dx2 = dot(step[0], step[0]);
    // Only a cache: densities are added in site order, so its iteration order never matters.
    let mut atoms: HashMap<u8, AtomicDensity> = HashMap::new();
    for (site_index, site) in structure.sites.iter().enumerate() {
        for occ in &site.occupants {
            let atom = match atoms.entry(occ.z) {
                std::collections::hash_map::Entry::Occupied(e) => e.into_mut(),
                std::collections::hash_map::Entry::Vacant(e) => {
                    e.insert(atomic_density_with(occ.z, which).map_err(|err| {
                        Error::new("promolecular density", Location::Site(site_index), err.kind)
                    })?)
                }
            };
            let f = site.frac;
            let rc = atom.cutoff;
            let range = |a: usize| {
                let lo = ((f[a] - rc / widths[a]) * grid[a] as f64).ceil() as i64;
                let hi = ((f[a] + rc / widths[a]) * grid[a] as f64).floor() as i64;
                lo..=hi
            };
            for k in range(2) {
                let kw = k.rem_euclid(nz as i64) as usize;
                for j in range(1) {
                    let jw = j.rem_euclid(ny as i64) as usize;
                    // Vector from the atom to grid point (0, j, k); point i adds i·step[0].
                    let p0 = [0, 1, 2].map(|c| {
                        -f[0] * m[0][c]
                            + (j as f64 / ny as f64 - f[1]) * m[1][c]
                            + (k as f64 / nz as f64 - f[2]) * m[2][c]
                    });
                    let b = dot(p0, step[0]);
                    let disc = b * b - dx2 * (dot(p0, p0) - rc * rc);
                    if disc <= 0.0 {
                        continue;
                    }
                    let sq = disc.sqrt();
                    let (ilo, ihi) = (
                        ((-b - sq) / dx2).ceil() as i64,
                        ((-b + sq) / dx2).floor() as i64,
                    );
                    let row = &mut total[nx * (jw + ny * kw)..nx * (jw + ny * kw + 1)];
                    // The wrapped column advances by one per point: an integer division per
                    // point (rem_euclid) cost as much as the density lookup itself.
                    let mut iw = ilo.rem_euclid(nx as i64) as usize;
                    for i in ilo..=ihi {
                        let fi = i as f64;
                        let v = [
                            p0[0] + fi * step[0][0],
                            p0[1] + fi * step[0][1],
                            p0[2] + fi * step[0][2],
                        ];
                        row[iw] += occ.occupancy * atom.lookup(dot(v, v).sqrt());
                        iw += 1;
                        if iw == nx {
                            iw = 0;
                        }
                    }
                }
            }
        }
    }
    let volume = structure.lattice.volume();
    for v in &mut total {
        *v *= volume;
    }
    Ok(Volumetric {
        structure: structure.clone(),
        grid,
        total,
        diff: None,
        kind: VolumetricKind::Chgcar,
        derived: true,
    })
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn atomic_densities_are_bit_identical_between_builds() {
        // Fresh maps each build: a hash-ordered screening sum differs within one process.
        for z in [8u8, 14, 26, 29, 47, 56, 74, 79, 82] {
            let reference = atomic_density_with(z, Shells::AllElectron).unwrap();
            let probe = |a: &AtomicDensity| -> Vec<u64> {
                (1..200)
                    .map(|i| a.density(i as f64 * 0.02).to_bits())
                    .collect()
            };
            let want = probe(&reference);
            for _ in 0..20 {
                assert_eq!(
                    probe(&atomic_density_with(z, Shells::AllElectron).unwrap()),
                    want,
                    "Z = {z}"
                );
            }
        }
    }

    #[test]
    fn gamma_values() {
        assert!((gamma(5.0) - 24.0).abs() < 1e-12);
        assert!((gamma(0.5) - std::f64::consts::PI.sqrt()).abs() < 1e-14);
        // Γ(8.4) = 7.4·6.4·5.4·4.4·3.4·2.4·1.4·Γ(1.4), Γ(1.4) = 0.887263817503075.
        let want = 7.4 * 6.4 * 5.4 * 4.4 * 3.4 * 2.4 * 1.4 * 0.887_263_817_503_075;
        assert!((gamma(8.4) / want - 1.0).abs() < 1e-13);
    }

    #[test]
    fn slater_exponents_textbook_values() {
        // Textbook Slater Z_eff: O 2p 4.55, Fe 3d 6.25, Fe 4s 3.75, Zn 4s 4.35, Na 3s 2.20.
        let zeff = |z: u8, n: u8, l: u8| {
            let a = atomic_density(z).unwrap();
            let s = a
                .shells
                .iter()
                .find(|s| s.n == n && s.l == l)
                .unwrap()
                .clone();
            s.zeta * s.n_eff
        };
        assert!((zeff(8, 2, 1) - 4.55).abs() < 1e-12);
        assert!((zeff(26, 3, 2) - 6.25).abs() < 1e-12);
        assert!((zeff(26, 4, 0) - 3.75).abs() < 1e-12);
        assert!((zeff(30, 4, 0) - 4.35).abs() < 1e-12);
        assert!((zeff(11, 3, 0) - 2.20).abs() < 1e-12);
        assert!((zeff(1, 1, 0) - 1.0).abs() < 1e-12);
    }

    #[test]
    fn every_element_has_a_normalised_valence_density() {
        for z in 1..=103u8 {
            let a = atomic_density(z).unwrap_or_else(|e| panic!("Z={z}: {e}"));
            let e = element(z).unwrap();
            if let Some(v) = e.valence_electrons {
                assert!(
                    (a.electrons() - v as f64).abs() < 1e-9,
                    "Z={z}: {} vs {v}",
                    a.electrons()
                );
            }
            // ∫ 4π r² ρ dr over the table = valence electrons (trapezoid on a fine grid).
            let n = 40_000;
            let h = a.cutoff / n as f64;
            let integral: f64 = (1..n)
                .map(|i| {
                    let r = i as f64 * h;
                    4.0 * std::f64::consts::PI * r * r * a.density(r)
                })
                .sum::<f64>()
                * h;
            assert!(
                (integral / a.electrons() - 1.0).abs() < 1e-4,
                "Z={z}: {integral} vs {}",
                a.electrons()
            );
            assert!(
                a.density(a.cutoff) < DENSITY_CUTOFF && a.cutoff < 30.0,
                "Z={z}: cutoff {}",
                a.cutoff
            );
            assert!((a.lookup(0.7 * a.cutoff) / a.density(0.7 * a.cutoff) - 1.0).abs() < 1e-4);
        }
    }
}
