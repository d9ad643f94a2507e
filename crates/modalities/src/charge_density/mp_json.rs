//! pymatgen `Chgcar.as_dict()` JSON, the form in which the Materials Project serves charge
//! densities:
//!
//! ```json
//! {"@module": "pymatgen.io.vasp.outputs", "@class": "Chgcar",
//!  "poscar": {"structure": {"lattice": {"matrix": [[...]]},
//!                           "sites": [{"species": [{"element": "Li", "occu": 1}], "abc": [0, 0, 0]}]}},
//!  "data": {"total": [[[...]]], "diff": [[[...]]]}}
//! ```
//!
//! The grids are nested lists indexed `[ix][iy][iz]`, either plain or wrapped by monty as
//! `{"@module": "numpy", "@class": "array", "dtype": "float64", "data": [[[...]]]}`; they are
//! stored here in VASP order (x fastest). Values are ρ·V_cell as in the CHGCAR they came from. A
//! top-level `"structure"` (pymatgen `VolumetricData.as_dict()`) is accepted in place of
//! `"poscar"`. Grids are deserialised straight into `Vec`s (no intermediate JSON tree), because
//! MP densities reach 10⁷ values.

use std::fmt;

use multimat_crystal::element::parse_species;
use multimat_crystal::{Lattice, Occupant, Site, Structure};
use serde::de::{self, Deserializer, IgnoredAny, MapAccess, SeqAccess, Visitor};
use serde::Deserialize;

use super::{Volumetric, VolumetricKind};
use crate::{Error, ErrorKind, Location};

#[derive(Deserialize)]
struct Doc {
    #[serde(rename = "@class")]
    class: Option<String>,
    poscar: Option<PoscarDoc>,
    structure: Option<StructureDoc>,
    data: Option<DataDoc>,
}

#[derive(Deserialize)]
struct PoscarDoc {
    structure: StructureDoc,
}

#[derive(Deserialize)]
struct StructureDoc {
    lattice: LatticeDoc,
    sites: Vec<SiteDoc>,
}

#[derive(Deserialize)]
struct LatticeDoc {
    matrix: [[f64; 3]; 3],
}

#[derive(Deserialize)]
struct SiteDoc {
    species: Vec<SpeciesDoc>,
    abc: [f64; 3],
    label: Option<String>,
}

#[derive(Deserialize)]
struct SpeciesDoc {
    element: String,
    occu: f64,
    oxidation_state: Option<f64>,
}

#[derive(Deserialize)]
struct DataDoc {
    total: Option<Grid>,
    diff: Option<Grid>,
}

/// A `[ix][iy][iz]` nested list, plain or monty-wrapped numpy array.
struct Grid(Vec<Vec<Vec<f64>>>);

impl<'de> Deserialize<'de> for Grid {
    fn deserialize<D: Deserializer<'de>>(d: D) -> Result<Self, D::Error> {
        struct GridVisitor;
        impl<'de> Visitor<'de> for GridVisitor {
            type Value = Grid;
            fn expecting(&self, f: &mut fmt::Formatter) -> fmt::Result {
                f.write_str("a nested [ix][iy][iz] list of numbers or a numpy array object")
            }
            fn visit_seq<A: SeqAccess<'de>>(self, mut seq: A) -> Result<Grid, A::Error> {
                let mut out = Vec::with_capacity(seq.size_hint().unwrap_or(0));
                while let Some(plane) = seq.next_element::<Vec<Vec<f64>>>()? {
                    out.push(plane);
                }
                Ok(Grid(out))
            }
            fn visit_map<A: MapAccess<'de>>(self, mut map: A) -> Result<Grid, A::Error> {
                let mut data = None;
                while let Some(key) = map.next_key::<String>()? {
                    match key.as_str() {
                        "data" => data = Some(map.next_value::<Vec<Vec<Vec<f64>>>>()?),
                        "dtype" => {
                            let dtype: String = map.next_value()?;
                            if !dtype.starts_with("float") && !dtype.starts_with("int") {
                                return Err(de::Error::custom(format!(
                                    "numpy dtype {dtype:?} is not a real number type"
                                )));
                            }
                        }
                        _ => {
                            map.next_value::<IgnoredAny>()?;
                        }
                    }
                }
                data.map(Grid)
                    .ok_or_else(|| de::Error::missing_field("data"))
            }
        }
        d.deserialize_any(GridVisitor)
    }
}

/// Reads pymatgen `Chgcar` (or `VolumetricData`, `Locpot`, `Elfcar`) JSON. The kind is
/// [`VolumetricKind::MpJson`] for charge densities; `"@class": "Locpot"` / `"Elfcar"` give those
/// kinds so that their units are not mistaken for ρ·V.
pub fn read_mp_json(text: &str, source_name: &str) -> Result<Volumetric, Error> {
    let doc: Doc = serde_json::from_str(text).map_err(|e| {
        let kind = if e.is_eof() {
            ErrorKind::Truncated(e.to_string())
        } else {
            ErrorKind::Syntax(e.to_string())
        };
        Error::new(source_name, Location::Line(e.line()), kind)
    })?;
    let key_err =
        |key: &str, kind: ErrorKind| Error::new(source_name, Location::Key(key.into()), kind);
    let kind = match doc.class.as_deref() {
        Some("Locpot") => VolumetricKind::Locpot,
        Some("Elfcar") => VolumetricKind::Elfcar,
        _ => VolumetricKind::MpJson,
    };
    let (prefix, s) = match (doc.poscar, doc.structure) {
        (Some(p), _) => ("poscar.structure", p.structure),
        (None, Some(s)) => ("structure", s),
        (None, None) => {
            return Err(key_err(
                "poscar",
                ErrorKind::Syntax("no \"poscar\" or \"structure\" with the crystal".into()),
            ))
        }
    };
    let lattice = Lattice::new(s.lattice.matrix)
        .map_err(|k| key_err(&format!("{prefix}.lattice.matrix"), k))?;
    let mut sites = Vec::with_capacity(s.sites.len());
    for (i, site) in s.sites.into_iter().enumerate() {
        let mut occupants = Vec::with_capacity(site.species.len());
        for (j, sp) in site.species.into_iter().enumerate() {
            let key = format!("{prefix}.sites[{i}].species[{j}]");
            let (z, ox) = parse_species(&sp.element).ok_or_else(|| {
                key_err(
                    &format!("{key}.element"),
                    ErrorKind::UnknownElement(sp.element.clone()),
                )
            })?;
            if !(sp.occu > 0.0 && sp.occu <= 1.0 + 1e-6) {
                return Err(key_err(
                    &format!("{key}.occu"),
                    ErrorKind::Syntax(format!("occupancy {} outside (0, 1]", sp.occu)),
                ));
            }
            occupants.push(Occupant {
                z,
                occupancy: sp.occu,
                oxidation: sp.oxidation_state.or(ox),
            });
        }
        if occupants.is_empty() {
            return Err(key_err(
                &format!("{prefix}.sites[{i}].species"),
                ErrorKind::Syntax("site has no species".into()),
            ));
        }
        sites.push(Site {
            frac: site.abc,
            occupants,
            label: site.label,
        });
    }
    let data = doc.data.ok_or_else(|| {
        key_err(
            "data",
            ErrorKind::Syntax("no \"data\" with the volumetric grids".into()),
        )
    })?;
    let total = data
        .total
        .ok_or_else(|| key_err("data.total", ErrorKind::Syntax("no \"total\" grid".into())))?;
    let (grid, total) = flatten(total, "data.total", source_name)?;
    let diff = match data.diff {
        Some(d) => {
            let (dgrid, diff) = flatten(d, "data.diff", source_name)?;
            if dgrid != grid {
                return Err(key_err(
                    "data.diff",
                    ErrorKind::Syntax(format!(
                        "diff grid {}x{}x{} differs from total grid {}x{}x{}",
                        dgrid[0], dgrid[1], dgrid[2], grid[0], grid[1], grid[2]
                    )),
                ));
            }
            Some(diff)
        }
        None => None,
    };
    Ok(Volumetric {
        structure: Structure::new(lattice, sites),
        grid,
        total,
        diff,
        kind,
        derived: false,
    })
}

/// `[ix][iy][iz]` nested lists → VASP order, checking the grid is rectangular and finite.
fn flatten(grid: Grid, key: &str, source_name: &str) -> Result<([usize; 3], Vec<f64>), Error> {
    let g = grid.0;
    let err =
        |k: String, msg: String| Error::new(source_name, Location::Key(k), ErrorKind::Syntax(msg));
    let nx = g.len();
    let ny = g.first().map_or(0, Vec::len);
    let nz = g.first().and_then(|p| p.first()).map_or(0, Vec::len);
    if nx == 0 || ny == 0 || nz == 0 {
        return Err(err(key.into(), format!("empty grid ({nx}x{ny}x{nz})")));
    }
    let mut out = vec![0.0; nx * ny * nz];
    for (ix, plane) in g.iter().enumerate() {
        if plane.len() != ny {
            return Err(err(
                format!("{key}[{ix}]"),
                format!("{} rows, expected {ny}", plane.len()),
            ));
        }
        for (iy, row) in plane.iter().enumerate() {
            if row.len() != nz {
                return Err(err(
                    format!("{key}[{ix}][{iy}]"),
                    format!("{} values, expected {nz}", row.len()),
                ));
            }
            for (iz, &v) in row.iter().enumerate() {
                out[ix + nx * (iy + ny * iz)] = v;
            }
        }
    }
    Ok(([nx, ny, nz], out))
}
