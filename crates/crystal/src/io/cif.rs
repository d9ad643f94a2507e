//! CIF 1.1 reader and writer.
//!
//! The reader takes one data block (by name, or the first block with atom sites), builds the
//! lattice from the cell parameters (Å, degrees) with [`Lattice::from_parameters`], expands
//! the asymmetric unit with the listed symmetry operations (or those of the space-group
//! symbol, Hall symbol or ITA number when no operation is listed; P 1 when nothing is given)
//! and merges what lands on one position:
//!
//! * Two positions coincide when their minimum-image Cartesian distance is below
//!   [`SITE_TOLERANCE`] (0.01 Å). pymatgen uses 1e-4 per fractional component instead; the
//!   two agree on every real structure (no two atoms are 0.01 Å apart) while the Cartesian
//!   test does not depend on the cell size.
//! * As in pymatgen, coordinates within 1e-4 (relative) of 1/3 or 2/3 are snapped to the exact
//!   fraction first, so that `0.3333` written with four digits expands cleanly under
//!   hexagonal operations.
//! * Different species on one position become one disordered site (occupancies kept). The
//!   same species listed twice on one position is summed when the total stays ≤ 1, and
//!   otherwise treated as a duplicate listing (the larger occupancy is kept).
//! * A site whose occupancies sum above 1 + 1e-3 is an error.
//!
//! Sites come out wrapped into [0, 1), asymmetric-unit row by row, each orbit in operation
//! order. Oxidation states written in the type symbol (`Fe2+`) are kept.
//!
//! The writer emits a P 1 CIF in the layout of pymatgen's `CifWriter`.

mod hall;
mod symops;
mod syntax;

use std::fmt::Write as _;

use crate::element::{element, parse_species};
use crate::error::{Error, ErrorKind, Location};
use crate::lattice::{norm, Lattice};
use crate::structure::{Occupant, Site, Structure};

use symops::SymOp;
use syntax::{Block, Value};

/// Two symmetry-generated positions closer than this (Å, periodic images included) are one site.
pub const SITE_TOLERANCE: f64 = 0.01;
/// Occupancies on one site may exceed 1 by this much (rounding in the file) before it is an error.
pub const OCCUPANCY_TOLERANCE: f64 = 1e-3;

const CELL_TAGS: [&str; 6] = [
    "_cell_length_a",
    "_cell_length_b",
    "_cell_length_c",
    "_cell_angle_alpha",
    "_cell_angle_beta",
    "_cell_angle_gamma",
];

const SYMOP_TAGS: [&str; 2] = [
    "_symmetry_equiv_pos_as_xyz",
    "_space_group_symop_operation_xyz",
];
const HM_TAGS: [&str; 2] = [
    "_space_group_name_h-m_alt",
    "_symmetry_space_group_name_h-m",
];
const HALL_TAGS: [&str; 2] = ["_space_group_name_hall", "_symmetry_space_group_name_hall"];
const NUMBER_TAGS: [&str; 2] = ["_space_group_it_number", "_symmetry_int_tables_number"];

/// Names of the data blocks in `text` (`data_NAME` without the prefix), in file order. Found
/// by a lenient scan, so it works on files the reader rejects.
pub fn block_names(text: &str) -> Vec<String> {
    syntax::scan_block_names(text)
}

/// Reads one structure from CIF text.
///
/// `block` picks the data block by name (case-insensitive, without `data_`); by default the
/// first block that has atom sites is read. `source_name` is used in error messages. Lattice
/// in Å; fractional coordinates wrapped into [0, 1).
pub fn read_cif(text: &str, source_name: &str, block: Option<&str>) -> Result<Structure, Error> {
    if text.trim().is_empty() {
        return Err(Error::new(source_name, Location::File, ErrorKind::Empty));
    }
    // Checked before the full parse so that a non-CIF file gets this message rather than a
    // syntax error about its first word.
    if syntax::scan_block_names(text).is_empty() {
        return Err(Error::new(
            source_name,
            Location::File,
            ErrorKind::Syntax("no data_ block found: this is not a CIF file".into()),
        ));
    }
    let blocks = syntax::parse(text, source_name)?;
    if blocks.is_empty() {
        return Err(Error::new(
            source_name,
            Location::File,
            ErrorKind::Syntax("no data_ block found".into()),
        ));
    }
    let chosen = match block {
        Some(name) => blocks
            .iter()
            .find(|b| b.name.eq_ignore_ascii_case(name))
            .ok_or_else(|| {
                let available: Vec<&str> = blocks.iter().map(|b| b.name.as_str()).collect();
                Error::new(
                    source_name,
                    Location::Tag(format!("data_{name}")),
                    ErrorKind::Syntax(format!(
                        "no data block named {name:?}; the file has: {}",
                        available.join(", ")
                    )),
                )
            })?,
        None => blocks
            .iter()
            .find(|b| b.has_tag("_atom_site_fract_x"))
            .unwrap_or(&blocks[0]),
    };
    build_structure(chosen, source_name)
}

fn tag_error(source: &str, tag: &str, kind: ErrorKind) -> Error {
    Error::new(source, Location::Tag(tag.to_string()), kind)
}

/// A CIF number: `1.234`, `-.5`, `1e-3`, `1.234(5)` (the standard uncertainty is dropped).
fn number(v: &Value) -> Option<f64> {
    if v.is_null() {
        return None;
    }
    let t = v.text.trim();
    let t = match t.find('(') {
        Some(open)
            if t.ends_with(')') && t[open + 1..t.len() - 1].bytes().all(|b| b.is_ascii_digit()) =>
        {
            &t[..open]
        }
        _ => t,
    };
    t.parse::<f64>().ok().filter(|x| x.is_finite())
}

fn required_number(block: &Block, tag: &str, source: &str) -> Result<f64, Error> {
    let Some(v) = block.single(tag) else {
        let msg = if block.has_tag(tag) {
            format!("{tag} must have exactly one value")
        } else {
            format!("missing {tag} in data_{}", block.name)
        };
        return Err(tag_error(source, tag, ErrorKind::Syntax(msg)));
    };
    number(v).ok_or_else(|| {
        tag_error(
            source,
            tag,
            ErrorKind::InvalidNumber {
                what: tag.to_string(),
                found: v.text.clone(),
            },
        )
    })
}

fn read_lattice(block: &Block, source: &str) -> Result<Lattice, Error> {
    let mut p = [0.0; 6];
    for (k, tag) in CELL_TAGS.iter().enumerate() {
        p[k] = required_number(block, tag, source)?;
    }
    for (k, tag) in CELL_TAGS.iter().enumerate() {
        let bad = if k < 3 {
            p[k] <= 0.0
        } else {
            p[k] <= 0.0 || p[k] >= 180.0
        };
        if bad {
            let what = if k < 3 {
                "a cell length must be > 0 Å"
            } else {
                "a cell angle must lie in (0, 180)°"
            };
            return Err(tag_error(
                source,
                tag,
                ErrorKind::Syntax(format!("{tag} = {}: {what}", p[k])),
            ));
        }
    }
    Lattice::from_parameters(p[0], p[1], p[2], p[3], p[4], p[5]).map_err(|kind| {
        // V² = (abc)² (1 - cos²α - cos²β - cos²γ + 2 cosα cosβ cosγ): when the angle factor
        // vanishes the angles cannot close a cell; otherwise a length is too small.
        let [ca, cb, cg] = [p[3], p[4], p[5]].map(|x: f64| x.to_radians().cos());
        let angle_factor = 1.0 - ca * ca - cb * cb - cg * cg + 2.0 * ca * cb * cg;
        let tag = if angle_factor < 1e-6 {
            "_cell_angle_alpha"
        } else {
            "_cell_length_a"
        };
        tag_error(source, tag, kind)
    })
}

/// The symmetry operations of the block, in the order pymatgen looks for them.
fn read_symops(block: &Block, lattice: &Lattice, source: &str) -> Result<Vec<SymOp>, Error> {
    for tag in SYMOP_TAGS {
        let values: Vec<&Value> = block
            .values(tag)
            .into_iter()
            .filter(|v| !v.is_null())
            .collect();
        if values.is_empty() {
            continue;
        }
        return values
            .iter()
            .map(|v| {
                symops::parse_xyz(&v.text).ok_or_else(|| {
                    Error::new(
                        source,
                        Location::Tag(tag.to_string()),
                        ErrorKind::Syntax(format!(
                            "line {}: cannot read symmetry operation {:?}",
                            v.line, v.text
                        )),
                    )
                })
            })
            .collect();
    }
    let p = lattice.parameters();
    let rel = |x: f64, y: f64| (x - y).abs() <= 1e-3 * x.abs().max(y.abs());
    let rhombohedral = rel(p.a, p.b)
        && rel(p.b, p.c)
        && (p.alpha - p.beta).abs() < 0.01
        && (p.beta - p.gamma).abs() < 0.01
        && (p.alpha - 90.0).abs() > 0.01;
    // The first symbol that could not be read, with why, in case no later one can be.
    let mut unresolved: Option<(String, String, Option<String>)> = None;
    let given = |tag: &str| -> Option<String> {
        block
            .single(tag)
            .filter(|v| !v.is_null() && !v.text.trim().is_empty())
            .map(|v| v.text.clone())
    };
    for tag in HM_TAGS {
        if let Some(sym) = given(tag) {
            match symops::ops_from_hm(&sym, rhombohedral) {
                Some(ops) => return Ok(ops),
                None => unresolved = unresolved.or(Some((tag.to_string(), sym, None))),
            }
        }
    }
    for tag in HALL_TAGS {
        if let Some(sym) = given(tag) {
            match symops::ops_from_hall(&sym) {
                Ok(ops) => return Ok(ops),
                Err(why) => unresolved = unresolved.or(Some((tag.to_string(), sym, Some(why)))),
            }
        }
    }
    for tag in NUMBER_TAGS {
        if let Some(text) = given(tag) {
            let parsed = text
                .trim()
                .parse::<i32>()
                .ok()
                .and_then(symops::ops_from_number);
            match parsed {
                Some(ops) => return Ok(ops),
                None => unresolved = unresolved.or(Some((tag.to_string(), text, None))),
            }
        }
    }
    match unresolved {
        // A symbol we cannot read would silently turn the asymmetric unit into a wrong P 1 cell.
        Some((tag, sym, why)) => Err(tag_error(
            source,
            &tag,
            ErrorKind::Unsupported(format!(
                "space group {sym:?} is not recognised{} and the file lists no symmetry \
                 operations",
                why.map(|w| format!(" ({w})")).unwrap_or_default()
            )),
        )),
        None => Ok(vec![SymOp::identity()]),
    }
}

/// One row of the atom-site table.
struct AtomRow {
    frac: [f64; 3],
    occupant: Occupant,
    label: Option<String>,
}

fn snap_thirds(x: f64) -> f64 {
    for f in [1.0 / 3.0, 2.0 / 3.0] {
        if (x / f - 1.0).abs() <= 1e-4 {
            return f;
        }
    }
    x
}

fn read_atom_rows(block: &Block, source: &str) -> Result<Vec<AtomRow>, Error> {
    let xyz_tags = [
        "_atom_site_fract_x",
        "_atom_site_fract_y",
        "_atom_site_fract_z",
    ];
    if !block.has_tag(xyz_tags[0]) {
        let msg = if block.has_tag("_atom_site_cartn_x") {
            "atom sites are given only in Cartesian coordinates (_atom_site_Cartn_x)".to_string()
        } else {
            format!(
                "data_{} has no atom sites (_atom_site_fract_x is missing)",
                block.name
            )
        };
        return Err(tag_error(source, xyz_tags[0], ErrorKind::Syntax(msg)));
    }
    let columns: Vec<Vec<&Value>> = xyz_tags.iter().map(|t| block.values(t)).collect();
    let n = columns[0].len();
    for (tag, col) in xyz_tags.iter().zip(&columns) {
        if col.len() != n {
            return Err(tag_error(
                source,
                tag,
                ErrorKind::Syntax(format!(
                    "{tag} has {} values but _atom_site_fract_x has {n}",
                    col.len()
                )),
            ));
        }
    }
    // Species, labels and occupancies must come from the same table as the coordinates.
    let same_table = |tag: &str| -> Option<Vec<&Value>> {
        let values = block.values(tag);
        (values.len() == n).then_some(values)
    };
    let types = same_table("_atom_site_type_symbol");
    let labels = same_table("_atom_site_label");
    let occupancies = same_table("_atom_site_occupancy");
    let mut rows = Vec::with_capacity(n);
    for i in 0..n {
        let mut frac = [0.0; 3];
        for k in 0..3 {
            let v = columns[k][i];
            frac[k] = snap_thirds(number(v).ok_or_else(|| {
                tag_error(
                    source,
                    xyz_tags[k],
                    ErrorKind::InvalidNumber {
                        what: format!("{} (line {})", xyz_tags[k], v.line),
                        found: v.text.clone(),
                    },
                )
            })?);
        }
        let label = labels
            .as_ref()
            .map(|l| l[i])
            .filter(|v| !v.is_null())
            .map(|v| v.text.clone());
        let (species_tag, species) = match types.as_ref().map(|t| t[i]).filter(|v| !v.is_null()) {
            Some(v) => ("_atom_site_type_symbol", v),
            None => match labels.as_ref().map(|l| l[i]).filter(|v| !v.is_null()) {
                Some(v) => ("_atom_site_label", v),
                None => {
                    return Err(tag_error(
                        source,
                        "_atom_site_type_symbol",
                        ErrorKind::Syntax(format!(
                            "atom site at line {} has neither a type symbol nor a label",
                            columns[0][i].line
                        )),
                    ))
                }
            },
        };
        let (z, oxidation) = parse_species(&species.text).ok_or_else(|| {
            tag_error(
                source,
                species_tag,
                ErrorKind::UnknownElement(species.text.clone()),
            )
        })?;
        let occupancy = match occupancies.as_ref().map(|o| o[i]) {
            None => 1.0,
            Some(v) if v.is_null() => 1.0,
            Some(v) => number(v).ok_or_else(|| {
                tag_error(
                    source,
                    "_atom_site_occupancy",
                    ErrorKind::InvalidNumber {
                        what: format!("_atom_site_occupancy (line {})", v.line),
                        found: v.text.clone(),
                    },
                )
            })?,
        };
        if occupancy < 0.0 {
            return Err(tag_error(
                source,
                "_atom_site_occupancy",
                ErrorKind::Syntax(format!(
                    "negative occupancy {occupancy} at line {}",
                    columns[0][i].line
                )),
            ));
        }
        if occupancy == 0.0 {
            // An empty site (a vacancy written out for completeness) holds no atom.
            continue;
        }
        rows.push(AtomRow {
            frac,
            occupant: Occupant {
                z,
                occupancy,
                oxidation,
            },
            label,
        });
    }
    Ok(rows)
}

/// Minimum-image coincidence test under `lattice`, with a cheap per-axis rejection first:
/// the distance is at least |Δf_i| times the width of the cell across axis i.
struct Coincidence {
    lattice: Lattice,
    max_frac: [f64; 3],
}

impl Coincidence {
    fn new(lattice: Lattice) -> Self {
        let w = lattice.perpendicular_widths();
        Coincidence {
            lattice,
            max_frac: std::array::from_fn(|k| SITE_TOLERANCE / w[k]),
        }
    }

    fn same(&self, a: [f64; 3], b: [f64; 3]) -> bool {
        let d: [f64; 3] = std::array::from_fn(|k| {
            let x = a[k] - b[k];
            x - x.round()
        });
        if (0..3).any(|k| d[k].abs() > self.max_frac[k]) {
            return false;
        }
        for i in -1..=1 {
            for j in -1..=1 {
                for k in -1..=1 {
                    let f = [d[0] + i as f64, d[1] + j as f64, d[2] + k as f64];
                    if norm(self.lattice.to_cartesian(f)) < SITE_TOLERANCE {
                        return true;
                    }
                }
            }
        }
        false
    }
}

fn wrap(x: [f64; 3]) -> [f64; 3] {
    x.map(|v| {
        let w = v.rem_euclid(1.0);
        // rem_euclid of a tiny negative number can round up to exactly 1.
        if w >= 1.0 - 1e-12 {
            0.0
        } else {
            w
        }
    })
}

/// Adds `new` to a site's occupants (see the module docs for the duplicate rule).
fn add_occupant(occupants: &mut Vec<Occupant>, new: &Occupant) {
    if let Some(o) = occupants
        .iter_mut()
        .find(|o| o.z == new.z && o.oxidation == new.oxidation)
    {
        let total = o.occupancy + new.occupancy;
        o.occupancy = if total <= 1.0 + OCCUPANCY_TOLERANCE {
            total
        } else {
            o.occupancy.max(new.occupancy)
        };
    } else {
        occupants.push(new.clone());
    }
}

fn build_structure(block: &Block, source: &str) -> Result<Structure, Error> {
    // Atom sites first: a block without them (a publication block) is reported as such,
    // not as a block with missing cell parameters.
    let rows = read_atom_rows(block, source)?;
    let lattice = read_lattice(block, source)?;
    let ops = read_symops(block, &lattice, source)?;
    let near = Coincidence::new(lattice);

    // Group asymmetric-unit rows that sit on symmetry-equivalent positions (disorder).
    let mut groups: Vec<Site> = Vec::new();
    for row in &rows {
        let frac = wrap(row.frac);
        let found = groups
            .iter_mut()
            .find(|g| ops.iter().any(|op| near.same(wrap(op.apply(frac)), g.frac)));
        match found {
            Some(g) => add_occupant(&mut g.occupants, &row.occupant),
            None => groups.push(Site {
                frac,
                occupants: vec![row.occupant.clone()],
                label: row.label.clone(),
            }),
        }
    }

    let mut sites: Vec<Site> = Vec::new();
    let mut origin: Vec<usize> = Vec::new();
    for (g, group) in groups.iter().enumerate() {
        for op in &ops {
            let p = wrap(op.apply(group.frac));
            match sites.iter().position(|s| near.same(s.frac, p)) {
                Some(existing) if origin[existing] == g => {}
                Some(existing) => {
                    for o in &group.occupants {
                        add_occupant(&mut sites[existing].occupants, o);
                    }
                }
                None => {
                    sites.push(Site {
                        frac: p,
                        occupants: group.occupants.clone(),
                        label: group.label.clone(),
                    });
                    origin.push(g);
                }
            }
        }
    }
    if sites.is_empty() {
        return Err(tag_error(
            source,
            "_atom_site_fract_x",
            ErrorKind::Syntax(format!("data_{} has no occupied atom sites", block.name)),
        ));
    }
    for (i, site) in sites.iter().enumerate() {
        let total: f64 = site.occupants.iter().map(|o| o.occupancy).sum();
        if total > 1.0 + OCCUPANCY_TOLERANCE {
            return Err(tag_error(
                source,
                "_atom_site_occupancy",
                ErrorKind::Syntax(format!(
                    "occupancies on site {i} ({}) at ({:.4}, {:.4}, {:.4}) sum to {total:.4} > 1",
                    site.label.as_deref().unwrap_or("unlabelled"),
                    site.frac[0],
                    site.frac[1],
                    site.frac[2]
                )),
            ));
        }
    }
    Ok(Structure::new(lattice, sites))
}

/// CIF value quoting: bare when possible, otherwise single or double quotes.
fn cif_value(s: &str) -> String {
    let needs_quotes = s.is_empty()
        || s.chars().any(|c| c.is_whitespace())
        || s.starts_with(['_', '#', '$', '\'', '"', ';', '[', ']'])
        || s == "?"
        || s == "."
        || s.to_ascii_lowercase().starts_with("data_")
        || s.eq_ignore_ascii_case("loop_");
    if !needs_quotes {
        s.to_string()
    } else if !s.contains('\'') {
        format!("'{s}'")
    } else if !s.contains('"') {
        format!("\"{s}\"")
    } else {
        s.split_whitespace()
            .collect::<Vec<_>>()
            .join("_")
            .replace(['\'', '"'], "")
    }
}

fn species_symbol(o: &Occupant) -> String {
    let sym = element(o.z).map(|e| e.symbol).unwrap_or("X");
    match o.oxidation {
        None => sym.to_string(),
        Some(ox) => {
            let sign = if ox < 0.0 { '-' } else { '+' };
            let mag = ox.abs();
            if (mag - mag.round()).abs() < 1e-9 {
                format!("{sym}{}{sign}", mag.round() as i64)
            } else {
                format!("{sym}{mag}{sign}")
            }
        }
    }
}

fn format_occupancy(x: f64) -> String {
    if (x - x.round()).abs() < 1e-12 {
        format!("{}", x.round() as i64)
    } else {
        format!("{x}")
    }
}

/// Writes `s` as a CIF 1.1 file in P 1 (one operation, `x, y, z`), laid out like pymatgen's
/// `CifWriter`: cell parameters (Å, degrees, 8 decimals), formula, volume (Å³), and one
/// `_atom_site` row per species and site (a disordered site gives one row per species at the
/// same coordinates). `title` names the data block (spaces become `_`); the reduced formula
/// is used when it is empty. The output reads back with [`read_cif`].
pub fn write_cif(s: &Structure, title: &str) -> String {
    let p = s.lattice.parameters();
    let reduced = s.reduced_formula();
    let name: String = if title.trim().is_empty() {
        reduced.clone()
    } else {
        title.trim().to_string()
    };
    let name: String = name
        .chars()
        .map(|c| if c.is_whitespace() { '_' } else { c })
        .collect();
    let composition = s.composition();
    let all_int = composition.values().all(|a| (a - a.round()).abs() < 1e-6);
    let formula_units = if all_int {
        composition
            .values()
            .map(|a| a.round() as u64)
            .fold(0, gcd)
            .max(1)
    } else {
        1
    };

    let mut out = String::new();
    // Writing to a String cannot fail.
    let _ = writeln!(out, "# generated by multimat");
    let _ = writeln!(out, "data_{name}");
    let _ = writeln!(out, "_symmetry_space_group_name_H-M   'P 1'");
    for (tag, v) in CELL_TAGS
        .iter()
        .zip([p.a, p.b, p.c, p.alpha, p.beta, p.gamma])
    {
        let _ = writeln!(out, "{tag}   {v:.8}");
    }
    let _ = writeln!(out, "_symmetry_Int_Tables_number   1");
    let _ = writeln!(
        out,
        "_chemical_formula_structural   {}",
        cif_value(&reduced)
    );
    let _ = writeln!(out, "_chemical_formula_sum   {}", cif_value(&s.formula()));
    let _ = writeln!(out, "_cell_volume   {:.8}", s.lattice.volume());
    let _ = writeln!(out, "_cell_formula_units_Z   {formula_units}");
    out.push_str(
        "loop_\n _symmetry_equiv_pos_site_id\n _symmetry_equiv_pos_as_xyz\n  1  'x, y, z'\n",
    );

    let mut oxidations: Vec<(String, f64)> = Vec::new();
    for o in s.sites.iter().flat_map(|site| &site.occupants) {
        if let Some(ox) = o.oxidation {
            let sym = species_symbol(o);
            if !oxidations.iter().any(|(s, _)| *s == sym) {
                oxidations.push((sym, ox));
            }
        }
    }
    if !oxidations.is_empty() {
        out.push_str("loop_\n _atom_type_symbol\n _atom_type_oxidation_number\n");
        for (sym, ox) in &oxidations {
            let _ = writeln!(out, "  {sym}  {ox:.1}");
        }
    }

    out.push_str(
        "loop_\n _atom_site_type_symbol\n _atom_site_label\n _atom_site_symmetry_multiplicity\n \
         _atom_site_fract_x\n _atom_site_fract_y\n _atom_site_fract_z\n _atom_site_occupancy\n",
    );
    for (i, site) in s.sites.iter().enumerate() {
        for o in &site.occupants {
            let sym = species_symbol(o);
            let label = match &site.label {
                Some(l) if !l.trim().is_empty() => l.clone(),
                _ => format!("{}{i}", element(o.z).map(|e| e.symbol).unwrap_or("X")),
            };
            let _ = writeln!(
                out,
                "  {}  {}  1  {:.8}  {:.8}  {:.8}  {}",
                cif_value(&sym),
                cif_value(&label),
                site.frac[0],
                site.frac[1],
                site.frac[2],
                format_occupancy(o.occupancy)
            );
        }
    }
    out
}

fn gcd(a: u64, b: u64) -> u64 {
    if b == 0 {
        a
    } else {
        gcd(b, a % b)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn numbers_with_uncertainties() {
        let v = |t: &str| Value {
            text: t.into(),
            quoted: false,
            line: 1,
        };
        assert_eq!(number(&v("1.234(5)")), Some(1.234));
        assert_eq!(number(&v("-.5")), Some(-0.5));
        assert_eq!(number(&v("1.2E+02(13)")), Some(120.0));
        assert_eq!(number(&v("?")), None);
        assert_eq!(number(&v("abc")), None);
        assert_eq!(number(&v("1.2(x)")), None);
        assert_eq!(number(&v("inf")), None);
    }

    #[test]
    fn coincidence_uses_periodic_images() {
        let near = Coincidence::new(Lattice::cubic(4.0));
        assert!(near.same([0.0, 0.0, 0.0], [0.999_999, 0.0, 1e-6]));
        assert!(!near.same([0.0, 0.0, 0.0], [0.01, 0.0, 0.0]));
        assert_eq!(wrap([-1e-17, 1.0, 2.25]), [0.0, 0.0, 0.25]);
    }

    #[test]
    fn duplicate_occupants() {
        let fe = |occupancy| Occupant {
            z: 26,
            occupancy,
            oxidation: None,
        };
        let mut occ = vec![fe(1.0)];
        add_occupant(&mut occ, &fe(1.0));
        assert_eq!(occ, vec![fe(1.0)]);
        let mut occ = vec![fe(0.25)];
        add_occupant(&mut occ, &fe(0.25));
        assert_eq!(occ, vec![fe(0.5)]);
        add_occupant(
            &mut occ,
            &Occupant {
                z: 28,
                occupancy: 0.5,
                oxidation: None,
            },
        );
        assert_eq!(occ.len(), 2);
    }

    #[test]
    fn value_quoting() {
        assert_eq!(cif_value("Fe1"), "Fe1");
        assert_eq!(cif_value("Na4 Cl4"), "'Na4 Cl4'");
        assert_eq!(cif_value("_x"), "'_x'");
        assert_eq!(cif_value("it's here"), "\"it's here\"");
        assert_eq!(cif_value(""), "''");
    }
}
