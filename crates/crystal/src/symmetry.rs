//! Space-group analysis with the `moyo` crate (spglib's pure-Rust successor).

use moyo::base::{AngleTolerance, Cell, Lattice as MoyoLattice};
use moyo::data::{hall_symbol_entry, Setting};
use moyo::MoyoDataset;
use nalgebra::Vector3;
use serde::{Deserialize, Serialize};

use crate::error::{Error, ErrorKind, Location};
use crate::structure::Structure;

/// Default symmetry tolerance in Å, the same as pymatgen's `SpacegroupAnalyzer`.
pub const DEFAULT_SYMPREC: f64 = 0.01;

/// The seven crystal systems.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, Serialize, Deserialize)]
#[serde(rename_all = "lowercase")]
pub enum CrystalSystem {
    Triclinic,
    Monoclinic,
    Orthorhombic,
    Tetragonal,
    Trigonal,
    Hexagonal,
    Cubic,
}

impl CrystalSystem {
    /// Crystal system of an ITA space-group number (1–230).
    pub fn from_number(n: i32) -> Option<Self> {
        Some(match n {
            1..=2 => CrystalSystem::Triclinic,
            3..=15 => CrystalSystem::Monoclinic,
            16..=74 => CrystalSystem::Orthorhombic,
            75..=142 => CrystalSystem::Tetragonal,
            143..=167 => CrystalSystem::Trigonal,
            168..=194 => CrystalSystem::Hexagonal,
            195..=230 => CrystalSystem::Cubic,
            _ => return None,
        })
    }

    /// Lower-case name, as pymatgen writes it (`"cubic"`).
    pub fn name(self) -> &'static str {
        match self {
            CrystalSystem::Triclinic => "triclinic",
            CrystalSystem::Monoclinic => "monoclinic",
            CrystalSystem::Orthorhombic => "orthorhombic",
            CrystalSystem::Tetragonal => "tetragonal",
            CrystalSystem::Trigonal => "trigonal",
            CrystalSystem::Hexagonal => "hexagonal",
            CrystalSystem::Cubic => "cubic",
        }
    }

    /// All seven, in ITA order (useful for plot legends and class indices).
    pub const ALL: [CrystalSystem; 7] = [
        CrystalSystem::Triclinic,
        CrystalSystem::Monoclinic,
        CrystalSystem::Orthorhombic,
        CrystalSystem::Tetragonal,
        CrystalSystem::Trigonal,
        CrystalSystem::Hexagonal,
        CrystalSystem::Cubic,
    ];
}

/// What symmetry analysis found.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct SpaceGroupInfo {
    /// ITA number 1–230.
    pub number: i32,
    /// Short Hermann–Mauguin symbol as pymatgen prints it, e.g. `Fm-3m`, `P6_3/mmc`.
    pub symbol: String,
    pub crystal_system: CrystalSystem,
    /// The tolerance (Å) that moyo finally used.
    pub symprec: f64,
}

/// Finds the space group of `structure` with tolerance `symprec` (Å). Disordered sites are
/// treated by their majority species, as a first approximation; callers that need exact
/// handling should check [`Structure::is_ordered`] first.
pub fn analyze(
    structure: &Structure,
    symprec: f64,
    source_name: &str,
) -> Result<SpaceGroupInfo, Error> {
    let positions = structure
        .sites
        .iter()
        .map(|s| Vector3::new(s.frac[0], s.frac[1], s.frac[2]))
        .collect();
    let numbers = structure.sites.iter().map(|s| s.z() as i32).collect();
    let cell = Cell::new(
        MoyoLattice::from_basis(*structure.lattice.matrix()),
        positions,
        numbers,
    );
    let dataset = MoyoDataset::new(
        &cell,
        symprec,
        AngleTolerance::Default,
        Setting::Spglib,
        false,
    )
    .map_err(|e| {
        Error::new(
            source_name,
            Location::File,
            ErrorKind::Syntax(format!("symmetry search failed (symprec {symprec} Å): {e}")),
        )
    })?;
    let symbol = hall_symbol_entry(dataset.hall_number)
        .map(|e| e.hm_short.replace(' ', ""))
        .unwrap_or_else(|| dataset.hm_symbol.replace(' ', ""));
    Ok(SpaceGroupInfo {
        number: dataset.number,
        symbol,
        crystal_system: CrystalSystem::from_number(dataset.number).expect("moyo returns 1..=230"),
        symprec: dataset.symprec,
    })
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::lattice::Lattice;
    use crate::structure::Site;

    #[test]
    fn rocksalt_and_wurtzite_like() {
        let a = 5.64;
        let l = Lattice::new([
            [0.0, a / 2.0, a / 2.0],
            [a / 2.0, 0.0, a / 2.0],
            [a / 2.0, a / 2.0, 0.0],
        ])
        .unwrap();
        let s = Structure::new(
            l,
            vec![Site::ordered(11, [0.0; 3]), Site::ordered(17, [0.5; 3])],
        );
        let info = analyze(&s, DEFAULT_SYMPREC, "NaCl").unwrap();
        assert_eq!((info.number, info.symbol.as_str()), (225, "Fm-3m"));
        assert_eq!(info.crystal_system, CrystalSystem::Cubic);

        // Hexagonal close packed Mg: P6_3/mmc (194).
        let l = Lattice::from_parameters(3.21, 3.21, 5.21, 90.0, 90.0, 120.0).unwrap();
        let s = Structure::new(
            l,
            vec![
                Site::ordered(12, [1.0 / 3.0, 2.0 / 3.0, 0.25]),
                Site::ordered(12, [2.0 / 3.0, 1.0 / 3.0, 0.75]),
            ],
        );
        let info = analyze(&s, DEFAULT_SYMPREC, "Mg").unwrap();
        assert_eq!((info.number, info.symbol.as_str()), (194, "P6_3/mmc"));
        assert_eq!(info.crystal_system.name(), "hexagonal");
    }
}
