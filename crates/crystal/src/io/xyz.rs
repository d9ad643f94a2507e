//! Extended XYZ (the ASE / QUIP convention) for periodic structures.
//!
//! Line 1 is the atom count; line 2 holds `key=value` pairs (values may be `"quoted"` or
//! `{braced}`), of which `Lattice="ax ay az bx by bz cx cy cz"` (Å, rows = lattice vectors) is
//! required and `Properties=name:type:columns:...` tells which columns hold the species (`species`
//! symbols or `Z` atomic numbers) and the Cartesian positions `pos` (Å); the default is
//! `species:S:1:pos:R:3`. Then one row per atom. Only the first frame of a multi-frame file is
//! read. `pbc` is not consulted: the lattice is always treated as periodic in three directions.

use crate::error::{Error, ErrorKind, Location};
use crate::lattice::Lattice;
use crate::structure::{Site, Structure};

use super::poscar::{element_symbol_z, one_line_title, parse_number, require_ordered, symbol_of};

/// Parses the first frame of extended-XYZ `text`; errors carry the 1-based line number.
pub fn read_extxyz(text: &str, source_name: &str) -> Result<Structure, Error> {
    let lines: Vec<&str> = text.lines().collect();
    let err = |n: usize, kind: ErrorKind| Error::new(source_name, Location::Line(n), kind);
    let Some(first) = lines.iter().position(|l| !l.trim().is_empty()) else {
        return Err(Error::new(source_name, Location::File, ErrorKind::Empty));
    };
    // Blank lines before the first frame are tolerated; line numbers stay those of the file.
    let count_line = first + 1;
    let count_text = lines[first].trim();
    let natoms: usize = count_text.parse().map_err(|_| {
        err(
            count_line,
            ErrorKind::InvalidNumber {
                what: "atom count".into(),
                found: count_text.to_string(),
            },
        )
    })?;
    if natoms == 0 {
        return Err(err(count_line, ErrorKind::Syntax("atom count is 0".into())));
    }
    let info_line = count_line + 1;
    let Some(info) = lines.get(info_line - 1) else {
        return Err(err(
            info_line,
            ErrorKind::Truncated("file ends before the comment line with Lattice=\"...\"".into()),
        ));
    };
    let pairs = parse_key_values(info).map_err(|m| err(info_line, ErrorKind::Syntax(m)))?;
    let get = |name: &str| {
        pairs
            .iter()
            .find(|(k, _)| k.eq_ignore_ascii_case(name))
            .map(|(_, v)| v.as_str())
    };

    let Some(lattice_text) = get("Lattice") else {
        return Err(err(
            info_line,
            ErrorKind::Unsupported(
                "no Lattice=\"ax ay az bx by bz cx cy cz\" on the comment line; plain XYZ holds a molecule, \
                 and a periodic structure needs its lattice"
                    .into(),
            ),
        ));
    };
    let numbers: Vec<&str> = lattice_text
        .split(|c: char| c.is_whitespace() || c == ',')
        .filter(|t| !t.is_empty())
        .collect();
    if numbers.len() != 9 {
        return Err(err(
            info_line,
            ErrorKind::Syntax(format!("Lattice needs 9 numbers, found {}", numbers.len())),
        ));
    }
    let mut m = [[0.0; 3]; 3];
    for (i, tok) in numbers.iter().enumerate() {
        m[i / 3][i % 3] = parse_number(tok).ok_or_else(|| {
            err(
                info_line,
                ErrorKind::InvalidNumber {
                    what: "Lattice component".into(),
                    found: tok.to_string(),
                },
            )
        })?;
    }
    let lattice = Lattice::new(m).map_err(|kind| err(info_line, kind))?;

    let columns = Columns::parse(get("Properties").unwrap_or("species:S:1:pos:R:3"))
        .map_err(|m| err(info_line, ErrorKind::Syntax(m)))?;

    // A corrupt count must not make us reserve memory for atoms the file cannot hold.
    let mut sites = Vec::with_capacity(natoms.min(lines.len()));
    for i in 0..natoms {
        let n = info_line + 1 + i;
        let line = lines.get(n - 1).copied().unwrap_or("");
        if line.trim().is_empty() {
            return Err(err(
                n,
                ErrorKind::Truncated(format!("expected {natoms} atom rows, found {i}")),
            ));
        }
        let tokens: Vec<&str> = line.split_whitespace().collect();
        if tokens.len() < columns.width {
            return Err(err(
                n,
                ErrorKind::Syntax(format!(
                    "row has {} columns but Properties declares {}",
                    tokens.len(),
                    columns.width
                )),
            ));
        }
        let species = tokens[columns.species];
        let z = if columns.species_is_z {
            species
                .parse::<u8>()
                .ok()
                .filter(|&z| crate::element::element(z).is_some())
                .ok_or_else(|| err(n, ErrorKind::UnknownElement(species.to_string())))?
        } else {
            element_symbol_z(species)
                .ok_or_else(|| err(n, ErrorKind::UnknownElement(species.to_string())))?
        };
        let mut pos = [0.0; 3];
        for (k, slot) in pos.iter_mut().enumerate() {
            let tok = tokens[columns.pos + k];
            *slot = parse_number(tok).ok_or_else(|| {
                err(
                    n,
                    ErrorKind::InvalidNumber {
                        what: "Cartesian position".into(),
                        found: tok.to_string(),
                    },
                )
            })?;
        }
        sites.push(Site::ordered(z, lattice.to_fractional(pos)));
    }
    Ok(Structure::new(lattice, sites))
}

/// Where the species and position columns sit in a row, from `Properties=`.
struct Columns {
    species: usize,
    species_is_z: bool,
    pos: usize,
    /// Total number of columns a row must have.
    width: usize,
}

impl Columns {
    fn parse(spec: &str) -> Result<Columns, String> {
        let parts: Vec<&str> = spec.split(':').collect();
        if !parts.chunks_exact(3).remainder().is_empty() {
            return Err(format!(
                "Properties={spec:?} is not a list of name:type:columns triples"
            ));
        }
        let mut col = 0;
        let (mut species, mut species_is_z, mut pos) = (None, false, None);
        for t in parts.chunks(3) {
            let (name, kind) = (t[0], t[1]);
            let n: usize = t[2].parse().map_err(|_| {
                format!(
                    "Properties: column count {:?} of {name:?} is not an integer",
                    t[2]
                )
            })?;
            if !matches!(kind, "S" | "R" | "I" | "L") {
                return Err(format!(
                    "Properties: type {kind:?} of {name:?} is not one of S, R, I, L"
                ));
            }
            match (name, kind, n) {
                ("species", "S", 1) if species.is_none() => species = Some(col),
                ("Z", "I", 1) if species.is_none() => {
                    species = Some(col);
                    species_is_z = true;
                }
                ("pos" | "positions", "R", 3) => pos = Some(col),
                _ => {}
            }
            col += n;
        }
        match (species, pos) {
            (Some(species), Some(pos)) => Ok(Columns {
                species,
                species_is_z,
                pos,
                width: col,
            }),
            _ => Err(format!(
                "Properties={spec:?} lacks a species:S:1 (or Z:I:1) column or a pos:R:3 column"
            )),
        }
    }
}

/// Splits the extended-XYZ comment line into `key=value` pairs; a bare key is a true flag.
/// Values may be quoted with `"..."` (backslash escapes) or braced with `{...}`.
fn parse_key_values(line: &str) -> Result<Vec<(String, String)>, String> {
    let mut out = Vec::new();
    let mut chars = line.chars().peekable();
    loop {
        while chars.next_if(|c| c.is_whitespace()).is_some() {}
        if chars.peek().is_none() {
            return Ok(out);
        }
        let mut key = String::new();
        while let Some(c) = chars.next_if(|c| !c.is_whitespace() && *c != '=') {
            key.push(c);
        }
        while chars.next_if(|c| c.is_whitespace()).is_some() {}
        if chars.next_if_eq(&'=').is_none() {
            out.push((key, "T".to_string()));
            continue;
        }
        while chars.next_if(|c| c.is_whitespace()).is_some() {}
        let mut value = String::new();
        match chars.peek() {
            Some('"') => {
                chars.next();
                loop {
                    match chars.next() {
                        Some('\\') => value.extend(chars.next()),
                        Some('"') => break,
                        Some(c) => value.push(c),
                        None => return Err(format!("value of {key} has no closing quote")),
                    }
                }
            }
            Some('{') => {
                chars.next();
                loop {
                    match chars.next() {
                        Some('}') => break,
                        Some(c) => value.push(c),
                        None => return Err(format!("value of {key} has no closing brace")),
                    }
                }
            }
            _ => {
                while let Some(c) = chars.next_if(|c| !c.is_whitespace()) {
                    value.push(c);
                }
            }
        }
        out.push((key, value));
    }
}

/// Writes `s` as one extended-XYZ frame: `Lattice` (Å), `Properties=species:S:1:pos:R:3`,
/// `pbc="T T T"` and the title as `comment="..."` (double quotes in it become single quotes),
/// then species and Cartesian positions (Å, 16 decimals). A disordered site is written as its
/// majority species (XYZ has no occupancies); [`try_write_extxyz`] refuses disorder instead.
pub fn write_extxyz(s: &Structure, title: &str) -> String {
    let lattice: Vec<String> = s
        .lattice
        .matrix()
        .iter()
        .flatten()
        .map(|x| format!("{x:.16}"))
        .collect();
    let mut out = format!(
        "{}\nLattice=\"{}\" Properties=species:S:1:pos:R:3 pbc=\"T T T\"",
        s.sites.len(),
        lattice.join(" ")
    );
    let title = one_line_title(s, title).replace('"', "'");
    out.push_str(&format!(" comment=\"{title}\"\n"));
    for (site, xyz) in s.sites.iter().zip(s.cart_coords()) {
        out.push_str(&format!(
            "{:<2} {:>22.16} {:>22.16} {:>22.16}\n",
            symbol_of(site.z()),
            xyz[0],
            xyz[1],
            xyz[2]
        ));
    }
    out
}

/// [`write_extxyz`] for ordered structures only: a disordered site gives an
/// [`ErrorKind::Disordered`] error at [`Location::Site`] (with `title` as the source name).
pub fn try_write_extxyz(s: &Structure, title: &str) -> Result<String, Error> {
    require_ordered(s, title)?;
    Ok(write_extxyz(s, title))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn key_values() {
        let kv =
            parse_key_values(r#"Lattice="1 0 0 0 1 0 0 0 1" a=1 flag b = {x y} c="q\"z""#).unwrap();
        let expect = [
            ("Lattice", "1 0 0 0 1 0 0 0 1"),
            ("a", "1"),
            ("flag", "T"),
            ("b", "x y"),
            ("c", "q\"z"),
        ];
        assert_eq!(kv.len(), expect.len());
        for ((k, v), (ek, ev)) in kv.iter().zip(expect) {
            assert_eq!((k.as_str(), v.as_str()), (ek, ev));
        }
        assert!(parse_key_values("Lattice=\"1 2").is_err());
    }

    #[test]
    fn properties_columns() {
        let c = Columns::parse("id:I:1:pos:R:3:species:S:1:forces:R:3").unwrap();
        assert_eq!(
            (c.species, c.pos, c.width, c.species_is_z),
            (4, 1, 8, false)
        );
        assert!(Columns::parse("species:S:1").is_err());
        assert!(Columns::parse("species:S").is_err());
    }
}
