//! A crystal structure: a lattice and sites with (possibly partial) species occupancies.

use std::collections::BTreeMap;

use serde::{Deserialize, Serialize};

use crate::element::element;
use crate::error::{Error, ErrorKind, Location};
use crate::lattice::{norm, Lattice};

/// Avogadro's number (1/mol), used for densities.
const AVOGADRO: f64 = 6.022_140_76e23;

/// One species on a site with its occupancy (1 for an ordered site).
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct Occupant {
    /// Atomic number.
    pub z: u8,
    /// Fraction of the site occupied by this species, in (0, 1].
    pub occupancy: f64,
    /// Formal oxidation state, when the source file gives one.
    pub oxidation: Option<f64>,
}

/// A site: fractional coordinates and what occupies it.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct Site {
    /// Fractional coordinates in the lattice basis (not wrapped into [0, 1)).
    pub frac: [f64; 3],
    pub occupants: Vec<Occupant>,
    /// The label the file gave the site (CIF `_atom_site_label`, pymatgen `label`).
    pub label: Option<String>,
}

impl Site {
    /// An ordered site fully occupied by element `z`.
    pub fn ordered(z: u8, frac: [f64; 3]) -> Self {
        Site {
            frac,
            occupants: vec![Occupant {
                z,
                occupancy: 1.0,
                oxidation: None,
            }],
            label: None,
        }
    }

    /// True when one species fully occupies the site (occupancy 1 within 1e-6).
    pub fn is_ordered(&self) -> bool {
        self.occupants.len() == 1 && (self.occupants[0].occupancy - 1.0).abs() < 1e-6
    }

    /// Atomic number of the majority species (the only one on an ordered site).
    pub fn z(&self) -> u8 {
        self.occupants
            .iter()
            .max_by(|a, b| a.occupancy.total_cmp(&b.occupancy))
            .map(|o| o.z)
            .unwrap_or(0)
    }

    /// Human-readable species string: `Fe` or `Fe:0.500,Ni:0.500`.
    pub fn species_string(&self) -> String {
        if self.is_ordered() {
            return symbol(self.occupants[0].z).to_string();
        }
        self.occupants
            .iter()
            .map(|o| format!("{}:{:.3}", symbol(o.z), o.occupancy))
            .collect::<Vec<_>>()
            .join(",")
    }
}

fn symbol(z: u8) -> &'static str {
    element(z).map(|e| e.symbol).unwrap_or("X")
}

/// A periodic crystal structure.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct Structure {
    pub lattice: Lattice,
    pub sites: Vec<Site>,
}

/// Two sites closer than this (Å) are reported as overlapping atoms.
pub const OVERLAP_TOLERANCE: f64 = 0.5;

impl Structure {
    pub fn new(lattice: Lattice, sites: Vec<Site>) -> Self {
        Structure { lattice, sites }
    }

    pub fn num_sites(&self) -> usize {
        self.sites.len()
    }

    /// True when every site holds exactly one species at full occupancy.
    pub fn is_ordered(&self) -> bool {
        self.sites.iter().all(Site::is_ordered)
    }

    /// Atomic numbers of an ordered structure, in site order; the error names the first
    /// disordered site.
    pub fn atomic_numbers(&self, source_name: &str) -> Result<Vec<u8>, Error> {
        self.sites
            .iter()
            .enumerate()
            .map(|(i, s)| {
                if s.is_ordered() {
                    Ok(s.occupants[0].z)
                } else {
                    Err(Error::new(
                        source_name,
                        Location::Site(i),
                        ErrorKind::Disordered(format!("site {i} holds {}", s.species_string())),
                    ))
                }
            })
            .collect()
    }

    /// Cartesian coordinates (Å) of every site.
    pub fn cart_coords(&self) -> Vec<[f64; 3]> {
        self.sites
            .iter()
            .map(|s| self.lattice.to_cartesian(s.frac))
            .collect()
    }

    /// Element symbol → amount in this cell (occupancy-weighted), sorted by symbol.
    pub fn composition(&self) -> BTreeMap<String, f64> {
        let mut out = BTreeMap::new();
        for site in &self.sites {
            for o in &site.occupants {
                *out.entry(symbol(o.z).to_string()).or_insert(0.0) += o.occupancy;
            }
        }
        out
    }

    /// Mass of the cell contents (amu).
    pub fn mass(&self) -> f64 {
        self.sites
            .iter()
            .flat_map(|s| &s.occupants)
            .map(|o| element(o.z).map(|e| e.mass).unwrap_or(0.0) * o.occupancy)
            .sum()
    }

    /// Density in g/cm³.
    pub fn density(&self) -> f64 {
        // amu / Å³ → g / cm³: (1 / N_A) g per amu, 1e-24 cm³ per Å³.
        self.mass() / AVOGADRO / (self.lattice.volume() * 1e-24)
    }

    /// Formula in the cell with elements ordered by electronegativity (pymatgen's
    /// `formula` order), e.g. `Na4 Cl4`; amounts are rounded to 3 decimals.
    pub fn formula(&self) -> String {
        self.formula_amounts()
            .iter()
            .map(|(sym, amount)| format!("{sym}{}", format_amount(*amount)))
            .collect::<Vec<_>>()
            .join(" ")
    }

    /// Reduced formula, e.g. `NaCl`, `Fe3O4` (integer amounts divided by their gcd;
    /// non-integer amounts kept as written).
    pub fn reduced_formula(&self) -> String {
        let comp = self.formula_amounts();
        let all_int = comp.iter().all(|(_, a)| (a - a.round()).abs() < 1e-6);
        let divisor = if all_int {
            comp.iter()
                .map(|(_, a)| a.round() as u64)
                .fold(0, gcd)
                .max(1) as f64
        } else {
            1.0
        };
        comp.iter()
            .map(|(sym, a)| {
                let v = a / divisor;
                if (v - 1.0).abs() < 1e-6 {
                    sym.clone()
                } else {
                    format!("{sym}{}", format_amount(v))
                }
            })
            .collect()
    }

    fn formula_amounts(&self) -> Vec<(String, f64)> {
        let mut parts: Vec<(f64, String, f64)> = self
            .composition()
            .into_iter()
            .map(|(sym, amount)| {
                let x = crate::element::z_of_symbol(&sym)
                    .and_then(element)
                    .and_then(|e| e.electronegativity)
                    .unwrap_or(f64::INFINITY);
                (x, sym, amount)
            })
            .collect();
        parts.sort_by(|a, b| a.0.total_cmp(&b.0).then(a.1.cmp(&b.1)));
        parts.into_iter().map(|(_, s, a)| (s, a)).collect()
    }

    /// Shortest periodic distance (Å) between the Cartesian points `a` and `b` under this
    /// lattice (minimum image over the 27 neighbouring cells after wrapping).
    pub fn periodic_distance(&self, a: [f64; 3], b: [f64; 3]) -> f64 {
        let fa = self.lattice.to_fractional(a);
        let fb = self.lattice.to_fractional(b);
        let d: [f64; 3] = std::array::from_fn(|k| {
            let x = fb[k] - fa[k];
            x - x.round()
        });
        let mut best = f64::INFINITY;
        for i in -1..=1 {
            for j in -1..=1 {
                for k in -1..=1 {
                    let f = [d[0] + i as f64, d[1] + j as f64, d[2] + k as f64];
                    best = best.min(norm(self.lattice.to_cartesian(f)));
                }
            }
        }
        best
    }

    /// Fails when two sites lie closer than `tolerance` Å (periodic images included), which
    /// in a parsed file almost always means duplicated or corrupted coordinates.
    pub fn check_overlaps(&self, source_name: &str, tolerance: f64) -> Result<(), Error> {
        let cart = self.cart_coords();
        for i in 0..cart.len() {
            for j in (i + 1)..cart.len() {
                let d = self.periodic_distance(cart[i], cart[j]);
                if d < tolerance {
                    return Err(Error::new(
                        source_name,
                        Location::Site(j),
                        ErrorKind::OverlappingAtoms { i, j, distance: d },
                    ));
                }
            }
        }
        Ok(())
    }
}

fn gcd(a: u64, b: u64) -> u64 {
    if b == 0 {
        a
    } else {
        gcd(b, a % b)
    }
}

fn format_amount(a: f64) -> String {
    if (a - a.round()).abs() < 1e-6 {
        format!("{}", a.round() as i64)
    } else {
        let s = format!("{a:.3}");
        s.trim_end_matches('0').trim_end_matches('.').to_string()
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn rocksalt() -> Structure {
        let a = 5.64;
        let lattice = Lattice::new([
            [0.0, a / 2.0, a / 2.0],
            [a / 2.0, 0.0, a / 2.0],
            [a / 2.0, a / 2.0, 0.0],
        ])
        .unwrap();
        Structure::new(
            lattice,
            vec![Site::ordered(11, [0.0; 3]), Site::ordered(17, [0.5; 3])],
        )
    }

    #[test]
    fn composition_density_formula() {
        let s = rocksalt();
        assert_eq!(s.composition().get("Na"), Some(&1.0));
        // NaCl: 58.443 g/mol in a 44.85 Å^3 primitive cell -> 2.164 g/cm^3.
        assert!((s.density() - 2.1638).abs() < 1e-3, "{}", s.density());
        assert_eq!(s.formula(), "Na1 Cl1");
        assert_eq!(s.reduced_formula(), "NaCl");
        assert!(s.is_ordered());
        assert_eq!(s.atomic_numbers("x").unwrap(), vec![11, 17]);
    }

    #[test]
    fn overlap_and_disorder_errors() {
        let mut s = rocksalt();
        s.sites.push(Site::ordered(11, [1.0 + 1e-4, 0.0, 0.0]));
        let err = s.check_overlaps("NaCl.cif", OVERLAP_TOLERANCE).unwrap_err();
        assert!(matches!(
            err.kind,
            ErrorKind::OverlappingAtoms { i: 0, j: 2, .. }
        ));
        assert!(err.to_string().starts_with("NaCl.cif: site 2:"));

        let mut d = rocksalt();
        d.sites[0].occupants = vec![
            Occupant {
                z: 11,
                occupancy: 0.5,
                oxidation: None,
            },
            Occupant {
                z: 19,
                occupancy: 0.5,
                oxidation: None,
            },
        ];
        assert!(!d.is_ordered());
        let err = d.atomic_numbers("x.json").unwrap_err();
        assert!(err.to_string().contains("Na:0.500,K:0.500"), "{err}");
    }
}
