//! VASP POSCAR / CONTCAR reader and writer.
//!
//! Reads VASP 4 (no species line) and VASP 5/6 files (species line, including VASP 6's
//! `Fe_pv/7a3c…` POTCAR labels and hashes and species lists wrapped over several lines), the
//! scale line (one positive factor, a negative target volume in Å³, or three per-axis factors),
//! an optional `Selective dynamics` line and `Direct` or `Cartesian` coordinates (Å, multiplied
//! by the scale like VASP does). Everything after the coordinate block (CONTCAR velocities,
//! predictor–corrector data) is ignored.
//!
//! The writer emits VASP 5 format with `Direct` coordinates, species grouped in order of first
//! appearance. POSCAR cannot express partial occupancies: [`try_write_poscar`] refuses
//! disordered structures, [`write_poscar`] writes the majority species of each site.

use crate::element::z_of_symbol;
use crate::error::{Error, ErrorKind, Location};
use crate::lattice::{det3, Lattice};
use crate::structure::{Site, Structure};

/// Parses POSCAR/CONTCAR `text`. `source_name` names the file in errors; every error carries
/// the 1-based line number it refers to.
pub fn read_poscar(text: &str, source_name: &str) -> Result<Structure, Error> {
    let lines: Vec<&str> = text.lines().collect();
    if lines.iter().all(|l| l.trim().is_empty()) {
        return Err(Error::new(source_name, Location::File, ErrorKind::Empty));
    }
    let p = Reader {
        lines: &lines,
        source: source_name,
    };

    // Line 2: the scale. Numeric tokens after the first are per-axis factors; anything else
    // after the numbers is an inline comment and ignored.
    let scale_line = p.line(2, "the scale factor")?;
    let scale_tokens: Vec<&str> = scale_line.split_whitespace().collect();
    let first = scale_tokens.first().copied().unwrap_or("");
    let first_value = p.number(first, 2, "scale factor")?;
    let mut scales = vec![first_value];
    for tok in scale_tokens.iter().skip(1) {
        match parse_number(tok) {
            Some(v) => scales.push(v),
            None => break,
        }
    }
    if scales.len() == 2 || scales.len() > 3 {
        return Err(p.err(
            2,
            ErrorKind::Syntax(format!(
                "scale line holds {} numbers; expected 1 or 3",
                scales.len()
            )),
        ));
    }

    // Lines 3-5: lattice vectors, in units of the scale.
    let mut raw = [[0.0; 3]; 3];
    for (i, row) in raw.iter_mut().enumerate() {
        *row = p.three_numbers(3 + i, "lattice vector component")?;
    }

    // Line 6: species names (VASP 5/6) or atom counts (VASP 4).
    let line6 = p.line(6, "the species or atom counts")?;
    let mut species: Option<Vec<u8>> = None;
    let counts_line;
    if starts_with_digit(line6) {
        counts_line = 6;
    } else {
        // Species names may wrap over several lines (VASP does this past 20 groups); the atom
        // counts then take as many lines.
        let mut names = Vec::new();
        let mut n = 6;
        while !starts_with_digit(p.line(n, "the atom counts")?) {
            let line = p.lines[n - 1];
            if line.trim().is_empty() {
                return Err(p.err(
                    n,
                    ErrorKind::Truncated("blank line where the atom counts belong".into()),
                ));
            }
            for tok in line.split_whitespace() {
                let z = potcar_symbol_z(tok)
                    .ok_or_else(|| p.err(n, ErrorKind::UnknownElement(tok.to_string())))?;
                names.push(z);
            }
            n += 1;
        }
        species = Some(names);
        counts_line = n;
    }
    let species_lines = counts_line - 6;
    let count_line_span = species_lines.max(1);
    let mut counts = Vec::new();
    for n in counts_line..counts_line + count_line_span {
        for tok in p.line(n, "the atom counts")?.split_whitespace() {
            let c: usize = tok.parse().map_err(|_| {
                p.err(
                    n,
                    ErrorKind::InvalidNumber {
                        what: "atom count".into(),
                        found: tok.to_string(),
                    },
                )
            })?;
            counts.push(c);
        }
    }
    let last_count_line = counts_line + count_line_span - 1;
    if let Some(names) = &species {
        if names.len() != counts.len() {
            return Err(p.err(
                last_count_line,
                ErrorKind::Syntax(format!(
                    "{} species names but {} atom counts",
                    names.len(),
                    counts.len()
                )),
            ));
        }
    }
    let natoms = counts
        .iter()
        .try_fold(0usize, |acc, &c| acc.checked_add(c))
        .ok_or_else(|| {
            p.err(
                last_count_line,
                ErrorKind::Syntax("atom counts overflow".into()),
            )
        })?;
    if natoms == 0 {
        return Err(p.err(
            last_count_line,
            ErrorKind::Syntax("atom counts add up to zero".into()),
        ));
    }

    // Optional "Selective dynamics", then the coordinate mode (first letter decides, as in VASP).
    let mut mode_line = last_count_line + 1;
    let mut selective = false;
    if first_char(p.line(mode_line, "the coordinate mode line (Direct or Cartesian)")?)
        .is_some_and(|c| c == 's' || c == 'S')
    {
        selective = true;
        mode_line += 1;
    }
    let mode = p.line(mode_line, "the coordinate mode line (Direct or Cartesian)")?;
    let cartesian = match first_char(mode) {
        Some('c' | 'C' | 'k' | 'K') => true,
        Some('d' | 'D') => false,
        _ => {
            return Err(p.err(
                mode_line,
                ErrorKind::Syntax(format!(
                    "expected \"Direct\" or \"Cartesian\", found {:?}",
                    mode.trim()
                )),
            ))
        }
    };

    // The coordinate block; VASP 4 files written by pymatgen append the species name.
    let name_column = if selective { 6 } else { 3 };
    // A corrupt count must not make us reserve memory for atoms the file cannot hold.
    let capacity = natoms.min(p.lines.len());
    let mut coords = Vec::with_capacity(capacity);
    let mut trailing_names = Vec::with_capacity(capacity);
    for i in 0..natoms {
        let n = mode_line + 1 + i;
        let line = p.lines.get(n - 1).copied().unwrap_or("");
        if line.trim().is_empty() {
            return Err(p.err(
                n,
                ErrorKind::Truncated(format!(
                    "expected {natoms} coordinate lines for {natoms} atoms, found {i}"
                )),
            ));
        }
        coords.push(p.three_numbers(n, "coordinate")?);
        trailing_names.push(
            line.split_whitespace()
                .nth(name_column)
                .and_then(potcar_symbol_z),
        );
    }

    let species = match species {
        Some(names) => names,
        None => vasp4_species(&p, &counts, &trailing_names)?,
    };

    // Apply the scale to the lattice (and to Cartesian coordinates, as VASP does).
    let factors: [f64; 3] = if scales.len() == 3 {
        if scales.iter().any(|&s| s <= 0.0) {
            return Err(p.err(
                2,
                ErrorKind::Syntax("three scale factors must all be positive (VASP allows a negative volume only as a single value)".into()),
            ));
        }
        [scales[0], scales[1], scales[2]]
    } else if first_value > 0.0 {
        [first_value; 3]
    } else if first_value < 0.0 {
        let raw_volume = det3(&raw).abs();
        if raw_volume < 1e-12 {
            return Err(p.err(3, ErrorKind::ZeroVolume(det3(&raw))));
        }
        [(-first_value / raw_volume).cbrt(); 3]
    } else {
        return Err(p.err(2, ErrorKind::ZeroVolume(0.0)));
    };
    let matrix = raw.map(|row| std::array::from_fn(|k| row[k] * factors[k]));
    let lattice = Lattice::new(matrix).map_err(|kind| p.err(3, kind))?;

    let mut sites = Vec::with_capacity(coords.len());
    let mut atom = 0;
    for (&z, &count) in species.iter().zip(&counts) {
        for _ in 0..count {
            let c = coords[atom];
            let frac = if cartesian {
                lattice.to_fractional([c[0] * factors[0], c[1] * factors[1], c[2] * factors[2]])
            } else {
                c
            };
            sites.push(Site::ordered(z, frac));
            atom += 1;
        }
    }
    Ok(Structure::new(lattice, sites))
}

/// VASP 4 files carry no species line: take the names from the comment line when it lists one
/// element symbol per count, else from names appended to every coordinate line.
fn vasp4_species(p: &Reader, counts: &[usize], trailing: &[Option<u8>]) -> Result<Vec<u8>, Error> {
    let comment: Vec<&str> = p.lines[0].split_whitespace().collect();
    if comment.len() == counts.len() {
        if let Some(zs) = comment
            .iter()
            .map(|t| potcar_symbol_z(t))
            .collect::<Option<Vec<u8>>>()
        {
            return Ok(zs);
        }
    }
    let mut zs = Vec::with_capacity(counts.len());
    let mut atom = 0;
    for &count in counts {
        let group = &trailing[atom..atom + count];
        match group.first().copied().flatten() {
            Some(z) if group.iter().all(|&t| t == Some(z)) => zs.push(z),
            _ => {
                return Err(p.err(
                    1,
                    ErrorKind::Unsupported(format!(
                        "VASP 4 POSCAR without species names: the comment line {:?} does not list {} \
                         element symbols; add a line of species names above the atom counts (VASP 5 format)",
                        p.lines[0].trim(),
                        counts.len()
                    )),
                ))
            }
        }
        atom += count;
    }
    Ok(zs)
}

struct Reader<'a> {
    lines: &'a [&'a str],
    source: &'a str,
}

impl Reader<'_> {
    fn err(&self, line: usize, kind: ErrorKind) -> Error {
        Error::new(self.source, Location::Line(line), kind)
    }

    /// Line `n` (1-based), or a Truncated error saying what was expected there.
    fn line(&self, n: usize, expected: &str) -> Result<&str, Error> {
        self.lines.get(n - 1).copied().ok_or_else(|| {
            self.err(
                n,
                ErrorKind::Truncated(format!("file ends before {expected} (line {n})")),
            )
        })
    }

    fn number(&self, tok: &str, n: usize, what: &str) -> Result<f64, Error> {
        parse_number(tok).ok_or_else(|| {
            self.err(
                n,
                ErrorKind::InvalidNumber {
                    what: what.into(),
                    found: tok.to_string(),
                },
            )
        })
    }

    /// The first three numbers of line `n`.
    fn three_numbers(&self, n: usize, what: &str) -> Result<[f64; 3], Error> {
        let line = self.line(n, &format!("a line of three {what}s"))?;
        let tokens: Vec<&str> = line.split_whitespace().take(3).collect();
        if tokens.len() < 3 {
            return Err(self.err(
                n,
                ErrorKind::Syntax(format!("expected three {what}s, found {:?}", line.trim())),
            ));
        }
        Ok([
            self.number(tokens[0], n, what)?,
            self.number(tokens[1], n, what)?,
            self.number(tokens[2], n, what)?,
        ])
    }
}

/// A finite float, also in Fortran's `1.0D-03` notation.
pub(crate) fn parse_number(tok: &str) -> Option<f64> {
    let v = tok.parse::<f64>().ok().or_else(|| {
        if tok.contains(['d', 'D']) {
            tok.replace(['d', 'D'], "e").parse::<f64>().ok()
        } else {
            None
        }
    })?;
    v.is_finite().then_some(v)
}

/// Atomic number of an element symbol in any case (`Fe`, `FE`, `fe`), also with a POTCAR label
/// or VASP 6 hash (`Fe_pv`, `Fe_sv_GW/3f0a…`). Anything else, including CIF-style labels such
/// as `Fe1`, is rejected so a comment word is never mistaken for an element.
pub(crate) fn potcar_symbol_z(token: &str) -> Option<u8> {
    let base = token.split('/').next()?.split('_').next()?;
    element_symbol_z(base)
}

/// Atomic number of a bare element symbol in any letter case.
pub(crate) fn element_symbol_z(symbol: &str) -> Option<u8> {
    if symbol.is_empty() || symbol.len() > 2 || !symbol.chars().all(|c| c.is_ascii_alphabetic()) {
        return None;
    }
    let mut normalised = symbol[..1].to_ascii_uppercase();
    normalised.push_str(&symbol[1..].to_ascii_lowercase());
    z_of_symbol(&normalised)
}

fn starts_with_digit(line: &str) -> bool {
    first_char(line).is_some_and(|c| c.is_ascii_digit())
}

fn first_char(line: &str) -> Option<char> {
    line.trim_start().chars().next()
}

pub(crate) fn symbol_of(z: u8) -> &'static str {
    crate::element::element(z).map(|e| e.symbol).unwrap_or("X")
}

/// A one-line title: newlines become spaces; an empty title becomes the formula.
pub(crate) fn one_line_title(s: &Structure, title: &str) -> String {
    let t: String = title
        .chars()
        .map(|c| if c == '\n' || c == '\r' { ' ' } else { c })
        .collect();
    if t.trim().is_empty() {
        s.formula()
    } else {
        t.trim().to_string()
    }
}

/// The first disordered site as an error (`source_name` is the structure's title).
pub(crate) fn require_ordered(s: &Structure, source_name: &str) -> Result<(), Error> {
    s.atomic_numbers(source_name).map(|_| ())
}

/// Writes `s` as a VASP 5 POSCAR (scale 1.0, lattice in Å, `Direct` coordinates, 16 decimals),
/// with the sites grouped by species in order of first appearance; the species name is also
/// appended to each coordinate line, which VASP ignores. A disordered site is written as its
/// majority species (POSCAR has no partial occupancies); use [`try_write_poscar`] to refuse
/// disordered structures instead.
pub fn write_poscar(s: &Structure, title: &str) -> String {
    let mut order: Vec<u8> = Vec::new();
    for site in &s.sites {
        if !order.contains(&site.z()) {
            order.push(site.z());
        }
    }
    let mut out = String::new();
    out.push_str(&one_line_title(s, title));
    out.push_str("\n1.0\n");
    for row in s.lattice.matrix() {
        out.push_str(&format!(
            "  {:>22.16}  {:>22.16}  {:>22.16}\n",
            row[0], row[1], row[2]
        ));
    }
    let names: Vec<&str> = order.iter().map(|&z| symbol_of(z)).collect();
    let counts: Vec<usize> = order
        .iter()
        .map(|&z| s.sites.iter().filter(|x| x.z() == z).count())
        .collect();
    out.push_str(&names.iter().map(|n| format!("{n:>6}")).collect::<String>());
    out.push('\n');
    out.push_str(&counts.iter().map(|c| format!("{c:>6}")).collect::<String>());
    out.push_str("\nDirect\n");
    for &z in &order {
        for site in s.sites.iter().filter(|x| x.z() == z) {
            let f = site.frac;
            out.push_str(&format!(
                "  {:>20.16}  {:>20.16}  {:>20.16} {}\n",
                f[0],
                f[1],
                f[2],
                symbol_of(z)
            ));
        }
    }
    out
}

/// [`write_poscar`] for ordered structures only: a disordered site gives an
/// [`ErrorKind::Disordered`] error at [`Location::Site`] (with `title` as the source name).
pub fn try_write_poscar(s: &Structure, title: &str) -> Result<String, Error> {
    require_ordered(s, title)?;
    Ok(write_poscar(s, title))
}

#[cfg(test)]
mod tests {
    use super::*;

    const NACL: &str =
        "Na Cl\n5.64\n0 0.5 0.5\n0.5 0 0.5\n0.5 0.5 0\n1 1\nDirect\n0 0 0\n0.5 0.5 0.5\n";

    #[test]
    fn vasp4_comment_species_and_scale() {
        let s = read_poscar(NACL, "POSCAR").unwrap();
        assert_eq!(s.sites.len(), 2);
        assert_eq!((s.sites[0].z(), s.sites[1].z()), (11, 17));
        assert!((s.lattice.volume() - 5.64f64.powi(3) / 4.0).abs() < 1e-9);
    }

    #[test]
    fn symbols_with_potcar_labels() {
        assert_eq!(potcar_symbol_z("Fe_pv/3f0a9b"), Some(26));
        assert_eq!(potcar_symbol_z("FE"), Some(26));
        assert_eq!(potcar_symbol_z("Fe1"), None);
        assert_eq!(potcar_symbol_z("Direct"), None);
        assert_eq!(parse_number("1.5D-01"), Some(0.15));
        assert_eq!(parse_number("nan"), None);
    }

    #[test]
    fn writer_round_trips() {
        let s = read_poscar(NACL, "POSCAR").unwrap();
        let back = read_poscar(&write_poscar(&s, "NaCl\nrock salt"), "out").unwrap();
        assert_eq!(back, s);
    }
}
