//! VASP volumetric files: CHGCAR, CHG, PARCHG, AECCAR0/1/2, LOCPOT, ELFCAR.
//!
//! Layout: a POSCAR header (VASP 4 or 5), a blank line, the grid dimensions `nx ny nz`, then
//! `nx·ny·nz` numbers (5 or 10 per line, Fortran `E` format, x fastest). A CHGCAR may follow with
//! PAW augmentation occupancies (skipped) and, when spin-polarised, a second block with the same
//! dimensions holding the magnetisation density; a non-collinear run writes three magnetisation
//! blocks (m_x, m_y, m_z).
//!
//! Files are tens of MB, so the grid is parsed straight from the bytes: no per-value `String`,
//! and a fast exact path for the usual ≤15-digit mantissas (see [`parse_number`]).

use multimat_crystal::element::parse_species;
use multimat_crystal::{Lattice, Site, Structure};

use super::{Volumetric, VolumetricKind};
use crate::{Error, ErrorKind, Location};

/// Reads a VASP volumetric file, taking its kind from the name (CHGCAR when the name says
/// nothing).
pub fn read_vasp(text: &str, source_name: &str) -> Result<Volumetric, Error> {
    let kind = match VolumetricKind::from_name(source_name) {
        Some(
            k @ (VolumetricKind::Chgcar
            | VolumetricKind::Aeccar
            | VolumetricKind::Locpot
            | VolumetricKind::Elfcar),
        ) => k,
        _ => VolumetricKind::Chgcar,
    };
    read_vasp_as(text, source_name, kind)
}

/// Reads a VASP volumetric file of a known kind.
///
/// One block → `diff` is `None`; two blocks → `diff` is the second (magnetisation for a CHGCAR,
/// spin-down ELF for an ELFCAR); four blocks (non-collinear) → `diff` is the last one, m_z.
/// Errors name the line: a grid with fewer than `nx·ny·nz` values, a value that is not a number,
/// a second block whose dimensions differ from the first.
pub fn read_vasp_as(
    text: &str,
    source_name: &str,
    kind: VolumetricKind,
) -> Result<Volumetric, Error> {
    let mut lines = Lines::new(text);
    let structure = read_header(&mut lines, source_name)?;

    // The grid dimensions follow the coordinates after (usually) one blank line.
    let (dims_line, dims_text) = loop {
        match lines.next() {
            None => {
                return Err(err(
                    source_name,
                    Location::Line(lines.line),
                    ErrorKind::Truncated("no grid dimensions after the atomic positions".into()),
                ))
            }
            Some((_, l)) if l.trim().is_empty() => continue,
            Some((no, l)) => break (no, l),
        }
    };
    let grid = parse_dims(dims_text).ok_or_else(|| {
        err(
            source_name,
            Location::Line(dims_line),
            ErrorKind::Syntax(format!(
                "expected grid dimensions `nx ny nz`, found {:?}",
                dims_text.trim()
            )),
        )
    })?;
    let n = grid.iter().product::<usize>();

    let mut blocks: Vec<Vec<f64>> = Vec::with_capacity(2);
    let mut scanner = Scanner::at(text, lines.pos, lines.line);
    loop {
        let mut values = Vec::with_capacity(n);
        scanner.read_values(n, &mut values, grid, blocks.len() + 1, source_name)?;
        blocks.push(values);
        if blocks.len() == 4 {
            break;
        }
        // Augmentation occupancies (and, for spin-polarised VASP 5 files, a line of per-atom
        // moments) come next; the following block starts at the next `nx ny nz` line.
        let mut rest = Lines::resume(text, scanner.pos, scanner.line);
        rest.finish_line();
        let mut next_block = None;
        while let Some((line_no, line)) = rest.next() {
            if let Some(dims) = parse_dims(line) {
                if dims != grid {
                    return Err(err(
                        source_name,
                        Location::Line(line_no),
                        ErrorKind::Syntax(format!(
                            "block {} has grid {}x{}x{}, but the first block has {}x{}x{}",
                            blocks.len() + 1,
                            dims[0],
                            dims[1],
                            dims[2],
                            grid[0],
                            grid[1],
                            grid[2]
                        )),
                    ));
                }
                next_block = Some(());
                break;
            }
        }
        if next_block.is_none() {
            break;
        }
        scanner = Scanner::at(text, rest.pos, rest.line);
    }
    let diff = match blocks.len() {
        1 => None,
        2 | 4 => blocks.pop(),
        k => {
            return Err(err(
                source_name,
                Location::Line(scanner.line),
                ErrorKind::Syntax(format!(
                "found {k} volumetric blocks; expected 1 (total), 2 (spin) or 4 (non-collinear)"
            )),
            ))
        }
    };
    blocks.truncate(1);
    let total = blocks.pop().unwrap_or_default();
    Ok(Volumetric {
        structure,
        grid,
        total,
        diff,
        kind,
        derived: false,
    })
}

fn err(source_name: &str, location: Location, kind: ErrorKind) -> Error {
    Error::new(source_name, location, kind)
}

/// `nx ny nz` with three positive integers and nothing else.
fn parse_dims(line: &str) -> Option<[usize; 3]> {
    let mut it = line.split_ascii_whitespace();
    let mut dims = [0usize; 3];
    for d in &mut dims {
        let tok = it.next()?;
        if !tok.bytes().all(|b| b.is_ascii_digit()) {
            return None;
        }
        *d = tok.parse().ok().filter(|&v| v > 0)?;
    }
    if it.next().is_some() {
        return None;
    }
    Some(dims)
}

/// Line iterator that remembers byte offset and 1-based line number, so the grid scanner can
/// take over where the header ends.
pub(crate) struct Lines<'a> {
    text: &'a str,
    pub(crate) pos: usize,
    /// Line number of the next line to be returned.
    pub(crate) line: usize,
}

impl<'a> Lines<'a> {
    pub(crate) fn new(text: &'a str) -> Self {
        Lines {
            text,
            pos: 0,
            line: 1,
        }
    }

    fn resume(text: &'a str, pos: usize, line: usize) -> Self {
        Lines { text, pos, line }
    }

    /// Skips the rest of the current line (the scanner stops right after a value).
    fn finish_line(&mut self) {
        let _ = self.next();
    }

    pub(crate) fn next(&mut self) -> Option<(usize, &'a str)> {
        if self.pos >= self.text.len() {
            return None;
        }
        let rest = &self.text[self.pos..];
        let (line, advance) = match rest.find('\n') {
            Some(i) => (&rest[..i], i + 1),
            None => (rest, rest.len()),
        };
        self.pos += advance;
        let n = self.line;
        self.line += 1;
        Some((n, line.strip_suffix('\r').unwrap_or(line)))
    }

    pub(crate) fn expect(
        &mut self,
        source_name: &str,
        what: &str,
    ) -> Result<(usize, &'a str), Error> {
        self.next().ok_or_else(|| {
            err(
                source_name,
                Location::Line(self.line),
                ErrorKind::Truncated(format!("file ends before the {what}")),
            )
        })
    }
}

pub(crate) fn floats(
    line: &str,
    count: usize,
    line_no: usize,
    what: &str,
    source_name: &str,
) -> Result<Vec<f64>, Error> {
    let toks: Vec<&str> = line.split_ascii_whitespace().take(count).collect();
    if toks.len() < count {
        return Err(err(
            source_name,
            Location::Line(line_no),
            ErrorKind::Syntax(format!(
                "expected {count} numbers for the {what}, found {:?}",
                line.trim()
            )),
        ));
    }
    toks.iter()
        .map(|t| {
            parse_number(t.as_bytes())
                .filter(|v| v.is_finite())
                .ok_or_else(|| {
                    err(
                        source_name,
                        Location::Line(line_no),
                        ErrorKind::InvalidNumber {
                            what: what.into(),
                            found: (*t).into(),
                        },
                    )
                })
        })
        .collect()
}

/// The POSCAR part: comment, scale, lattice, species (VASP 5) or none (VASP 4: taken from the
/// comment line as pymatgen does), counts, optional `Selective dynamics`, Direct/Cartesian,
/// coordinates.
fn read_header(lines: &mut Lines, source_name: &str) -> Result<Structure, Error> {
    let (_, comment) = lines.expect(source_name, "comment line")?;
    let (scale_no, scale_line) = lines.expect(source_name, "scale factor")?;
    let scale_toks = scale_line
        .split_ascii_whitespace()
        .take_while(|t| parse_number(t.as_bytes()).is_some())
        .count();
    let scale = floats(
        scale_line,
        if scale_toks >= 3 { 3 } else { 1 },
        scale_no,
        "scale factor",
        source_name,
    )?;
    let mut matrix = [[0.0; 3]; 3];
    for row in &mut matrix {
        let (no, l) = lines.expect(source_name, "lattice vectors")?;
        let v = floats(l, 3, no, "lattice vector", source_name)?;
        row.copy_from_slice(&v);
    }
    // One scale factor multiplies everything (negative: it is the target volume in Å³); three
    // scale the Cartesian x, y, z components separately (VASP 6).
    let factors: [f64; 3] = if scale.len() == 3 {
        [scale[0], scale[1], scale[2]]
    } else if scale[0] < 0.0 {
        let det = Lattice::new(matrix)
            .map_err(|k| err(source_name, Location::Line(scale_no + 1), k))?
            .volume();
        [(-scale[0] / det).cbrt(); 3]
    } else {
        [scale[0]; 3]
    };
    if factors.iter().any(|&f| f <= 0.0) {
        return Err(err(
            source_name,
            Location::Line(scale_no),
            ErrorKind::Syntax(format!(
                "scale factor must be positive, found {:?}",
                scale_line.trim()
            )),
        ));
    }
    for row in &mut matrix {
        for (x, f) in row.iter_mut().zip(factors) {
            *x *= f;
        }
    }
    let lattice =
        Lattice::new(matrix).map_err(|k| err(source_name, Location::Line(scale_no + 1), k))?;

    let (mut no, mut line) = lines.expect(source_name, "species or counts line")?;
    let first_is_count = line
        .split_ascii_whitespace()
        .next()
        .is_some_and(|t| t.parse::<usize>().is_ok());
    let (species_line, species_no) = if first_is_count {
        (comment, 1)
    } else {
        let s = (line, no);
        (no, line) = lines.expect(source_name, "atom counts")?;
        s
    };
    let counts: Vec<usize> = line
        .split_ascii_whitespace()
        .map_while(|t| t.parse::<usize>().ok())
        .collect();
    if counts.is_empty() || counts.iter().sum::<usize>() == 0 {
        return Err(err(
            source_name,
            Location::Line(no),
            ErrorKind::Syntax(format!("expected atom counts, found {:?}", line.trim())),
        ));
    }
    let species_toks: Vec<&str> = species_line.split_ascii_whitespace().collect();
    if species_toks.len() < counts.len() {
        let what = if first_is_count {
            "VASP 4 header without a species line, and the comment line does not name one species per count".to_string()
        } else {
            format!(
                "{} species names for {} counts",
                species_toks.len(),
                counts.len()
            )
        };
        return Err(err(
            source_name,
            Location::Line(species_no),
            ErrorKind::Syntax(what),
        ));
    }
    let mut zs = Vec::with_capacity(counts.len());
    for tok in &species_toks[..counts.len()] {
        // VASP 6 writes POTCAR names such as `Fe_pv` or `Fe_pv/7a2b…`.
        let symbol = tok.split(['_', '/']).next().unwrap_or(tok);
        let z = parse_species(symbol).map(|(z, _)| z).ok_or_else(|| {
            err(
                source_name,
                Location::Line(species_no),
                ErrorKind::UnknownElement((*tok).into()),
            )
        })?;
        zs.push(z);
    }

    let (mut mode_no, mut mode) = lines.expect(source_name, "coordinate mode line")?;
    if mode.trim_start().starts_with(['s', 'S']) {
        (mode_no, mode) = lines.expect(source_name, "coordinate mode line")?;
    }
    let cartesian = match mode.trim_start().bytes().next() {
        Some(b'c' | b'C' | b'k' | b'K') => true,
        Some(b'd' | b'D') => false,
        _ => {
            return Err(err(
                source_name,
                Location::Line(mode_no),
                ErrorKind::Syntax(format!(
                    "expected `Direct` or `Cartesian`, found {:?}",
                    mode.trim()
                )),
            ))
        }
    };
    let mut sites = Vec::with_capacity(counts.iter().sum());
    for (&z, &count) in zs.iter().zip(&counts) {
        for _ in 0..count {
            let (no, l) = lines.expect(source_name, "atomic positions")?;
            let v = floats(l, 3, no, "atomic position", source_name)?;
            let frac = if cartesian {
                lattice.to_fractional([v[0] * factors[0], v[1] * factors[1], v[2] * factors[2]])
            } else {
                [v[0], v[1], v[2]]
            };
            sites.push(Site::ordered(z, frac));
        }
    }
    Ok(Structure::new(lattice, sites))
}

/// Whitespace-separated number scanner over raw bytes that keeps the line number.
pub(crate) struct Scanner<'a> {
    bytes: &'a [u8],
    pub(crate) pos: usize,
    /// 1-based line number of `pos`.
    pub(crate) line: usize,
}

impl<'a> Scanner<'a> {
    pub(crate) fn at(text: &'a str, pos: usize, line: usize) -> Self {
        Scanner {
            bytes: text.as_bytes(),
            pos,
            line,
        }
    }

    fn skip_space(&mut self) -> bool {
        let mut at_line_start = self.pos == 0 || self.bytes.get(self.pos - 1) == Some(&b'\n');
        while let Some(&b) = self.bytes.get(self.pos) {
            match b {
                b'\n' => {
                    self.line += 1;
                    at_line_start = true;
                }
                b' ' | b'\t' | b'\r' | 0x0b | 0x0c => {}
                _ => break,
            }
            self.pos += 1;
        }
        at_line_start
    }

    /// Reads exactly `n` numbers into `out`. `grid` and `block` (1-based) only label errors.
    pub(crate) fn read_values(
        &mut self,
        n: usize,
        out: &mut Vec<f64>,
        grid: [usize; 3],
        block: usize,
        source_name: &str,
    ) -> Result<(), Error> {
        let bytes = self.bytes;
        for k in 0..n {
            let first_on_line = self.skip_space();
            let start = self.pos;
            while self.pos < bytes.len() && !bytes[self.pos].is_ascii_whitespace() {
                self.pos += 1;
            }
            let tok = &bytes[start..self.pos];
            if tok.is_empty() {
                return Err(err(
                    source_name,
                    Location::Line(self.line),
                    ErrorKind::Truncated(format!(
                        "grid block {block} ({}x{}x{} = {n} values) ends after {k} values",
                        grid[0], grid[1], grid[2]
                    )),
                ));
            }
            match parse_number(tok).filter(|v| v.is_finite()) {
                Some(v) => out.push(v),
                None => {
                    let found = String::from_utf8_lossy(tok).into_owned();
                    // A word at the start of a line is the next section (e.g. `augmentation
                    // occupancies`) arriving early: the grid is short, not garbled.
                    let kind = if first_on_line && tok[0].is_ascii_alphabetic() {
                        ErrorKind::Truncated(format!(
                            "grid block {block} ({}x{}x{} = {n} values) has only {k} values before {found:?}",
                            grid[0], grid[1], grid[2]
                        ))
                    } else {
                        ErrorKind::InvalidNumber {
                            what: format!("grid value {} of block {block}", k + 1),
                            found,
                        }
                    };
                    return Err(err(source_name, Location::Line(self.line), kind));
                }
            }
        }
        Ok(())
    }
}

/// Exact powers of ten representable in f64 (10^0 … 10^22).
const POW10: [f64; 23] = [
    1e0, 1e1, 1e2, 1e3, 1e4, 1e5, 1e6, 1e7, 1e8, 1e9, 1e10, 1e11, 1e12, 1e13, 1e14, 1e15, 1e16,
    1e17, 1e18, 1e19, 1e20, 1e21, 1e22,
];

/// Parses a decimal number as Fortran writes it: `0.44062142953E+00`, `-.4616E+02`, `1.0D-03`,
/// `0.1234-100` (three-digit exponent without the letter), `12`, `-3.5`. Returns `None` for
/// anything else. Correctly rounded: mantissas of ≤15 digits with |exponent| ≤ 22 take the exact
/// fast path (one IEEE multiplication or division of exact operands, as in Clinger's algorithm);
/// the rest go through the standard library parser.
pub(crate) fn parse_number(tok: &[u8]) -> Option<f64> {
    // Ordinary tokens (`0.44062142953E+00`) go through the standard library's correctly rounded
    // parser, which is faster than anything hand-written; only Fortran's oddities (`1.0D-03`,
    // `0.1234-100`) fall through to the parser below. Words the std parser also accepts
    // (`inf`, `NaN`) fall through too, so they are refused below.
    if let Some(v) = std::str::from_utf8(tok)
        .ok()
        .and_then(|t| t.parse::<f64>().ok())
        .filter(|v| v.is_finite())
    {
        return Some(v);
    }
    let len = tok.len();
    let mut i = 0;
    let negative = match tok.first()? {
        b'-' => {
            i += 1;
            true
        }
        b'+' => {
            i += 1;
            false
        }
        _ => false,
    };
    let mut mantissa: u64 = 0;
    let mut digits = 0u32; // significant digits kept in `mantissa`
    let mut dropped = false;
    let mut exp_adjust: i32 = 0;
    let mut saw_digit = false;
    while i < len && tok[i].is_ascii_digit() {
        saw_digit = true;
        let d = (tok[i] - b'0') as u64;
        if digits < 19 {
            if mantissa != 0 || d != 0 {
                digits += 1;
            }
            mantissa = mantissa * 10 + d;
        } else {
            exp_adjust += 1;
            dropped |= d != 0;
        }
        i += 1;
    }
    if i < len && tok[i] == b'.' {
        i += 1;
        while i < len && tok[i].is_ascii_digit() {
            saw_digit = true;
            let d = (tok[i] - b'0') as u64;
            if digits < 19 {
                if mantissa != 0 || d != 0 {
                    digits += 1;
                }
                mantissa = mantissa * 10 + d;
                exp_adjust -= 1;
            } else {
                dropped |= d != 0;
            }
            i += 1;
        }
    }
    if !saw_digit {
        return None;
    }
    let mut exponent: i32 = 0;
    if i < len {
        match tok[i] {
            b'e' | b'E' | b'd' | b'D' => i += 1,
            b'+' | b'-' => {}
            _ => return None,
        }
        let exp_negative = match tok.get(i) {
            Some(b'-') => {
                i += 1;
                true
            }
            Some(b'+') => {
                i += 1;
                false
            }
            _ => false,
        };
        let start = i;
        while i < len && tok[i].is_ascii_digit() {
            exponent = exponent
                .saturating_mul(10)
                .saturating_add((tok[i] - b'0') as i32);
            i += 1;
        }
        if i == start || i != len {
            return None;
        }
        if exp_negative {
            exponent = -exponent;
        }
    }
    let e = exponent.saturating_add(exp_adjust);
    let value = if mantissa == 0 {
        0.0
    } else if !dropped && digits <= 15 && (-22..=22).contains(&e) {
        let m = mantissa as f64;
        if e >= 0 {
            m * POW10[e as usize]
        } else {
            m / POW10[(-e) as usize]
        }
    } else if !dropped {
        format!("{mantissa}e{e}").parse::<f64>().ok()?
    } else {
        // More than 19 significant digits: let the standard parser see all of them.
        let s: String = std::str::from_utf8(tok)
            .ok()?
            .chars()
            .map(|c| if matches!(c, 'd' | 'D') { 'e' } else { c })
            .collect();
        return s.parse::<f64>().ok();
    };
    Some(if negative { -value } else { value })
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn fortran_numbers() {
        let cases: [(&str, f64); 12] = [
            ("0.44062142953E+00", 0.44062142953),
            ("-.46163122510E+02", -46.163122510),
            ("0.10000382501E+01", 1.0000382501),
            ("1.0D-03", 1.0e-3),
            ("0.1234-100", 0.1234e-100),
            ("0.5+101", 0.5e101),
            ("12", 12.0),
            ("-3.5", -3.5),
            ("+.25", 0.25),
            ("0.0000000E+00", 0.0),
            ("1.2345678901234567890123E+05", 123_456.789_012_345_68),
            ("4.9406564584124654E-324", 5e-324),
        ];
        for (s, want) in cases {
            assert_eq!(parse_number(s.as_bytes()), Some(want), "{s}");
        }
        for bad in [
            "",
            "-",
            ".",
            "E+02",
            "1.2.3",
            "1e",
            "0.1E+0x",
            "***********",
            "NaN",
            "abc",
        ] {
            assert_eq!(parse_number(bad.as_bytes()), None, "{bad}");
        }
    }

    #[test]
    fn fast_path_matches_std_parser() {
        // Deterministic pseudo-random Fortran-style numbers against the standard parser.
        let mut state = 0x9E37_79B9_7F4A_7C15u64;
        for _ in 0..20000 {
            state ^= state << 13;
            state ^= state >> 7;
            state ^= state << 17;
            let mant = state % 100_000_000_000;
            let exp = (state >> 40) % 40;
            let s = format!(
                "0.{mant:011}E{}{:02}",
                if state & 1 == 0 { '+' } else { '-' },
                exp
            );
            let want: f64 = s.parse().unwrap();
            assert_eq!(parse_number(s.as_bytes()), Some(want), "{s}");
        }
    }

    #[test]
    fn dims_lines() {
        assert_eq!(parse_dims("   48   48   40"), Some([48, 48, 40]));
        assert_eq!(parse_dims("48 48"), None);
        assert_eq!(parse_dims("1.0 1.0 1.0"), None);
        assert_eq!(parse_dims("0 4 4"), None);
        assert_eq!(parse_dims("augmentation occupancies 1 15"), None);
    }
}
