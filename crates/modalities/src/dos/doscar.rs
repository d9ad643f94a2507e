//! Total density of states from a VASP `DOSCAR`.
//!
//! Layout: 5 header lines; line 6 = `Emax Emin NEDOS EFermi weight` (eV); then NEDOS rows
//! `E dos int` (3 columns, ISPIN = 1) or `E dos_up dos_down int_up int_down` (5 columns, ISPIN = 2).
//! Per-ion projected blocks that may follow (LORBIT) are ignored.

use super::{Dos, SpectrumKind};
use crate::{Error, ErrorKind, Location};

/// Reads the total DOS of a DOSCAR (energies absolute, eV; densities states/eV).
pub fn read_doscar(text: &str, source_name: &str) -> Result<Dos, Error> {
    let err = |line: usize, kind: ErrorKind| Error::new(source_name, Location::Line(line), kind);
    let mut lines = text.lines();
    for n in 1..=5 {
        if lines.next().is_none() {
            return Err(err(
                n,
                ErrorKind::Truncated(format!(
                    "DOSCAR has only {} line(s); the header has 6",
                    n - 1
                )),
            ));
        }
    }
    let header = lines.next().ok_or_else(|| {
        err(
            6,
            ErrorKind::Truncated("no line 6 (Emax Emin NEDOS EFermi weight)".into()),
        )
    })?;
    let fields: Vec<&str> = header.split_whitespace().collect();
    if fields.len() < 4 {
        return Err(err(
            6,
            ErrorKind::Syntax(format!(
                "line 6 should be `Emax Emin NEDOS EFermi weight`, found {:?}",
                header.trim()
            )),
        ));
    }
    let nedos: usize = fields[2].parse().map_err(|_| {
        err(
            6,
            ErrorKind::InvalidNumber {
                what: "NEDOS".into(),
                found: fields[2].into(),
            },
        )
    })?;
    let efermi: f64 = fields[3].parse().map_err(|_| {
        err(
            6,
            ErrorKind::InvalidNumber {
                what: "EFermi".into(),
                found: fields[3].into(),
            },
        )
    })?;
    let mut energies = Vec::with_capacity(nedos);
    let mut up = Vec::with_capacity(nedos);
    let mut down = Vec::new();
    let mut ncols = 0;
    for k in 0..nedos {
        let line_no = 7 + k;
        let line = lines.next().ok_or_else(|| {
            err(
                line_no,
                ErrorKind::Truncated(format!(
                    "NEDOS = {nedos} but the file ends after {k} DOS row(s)"
                )),
            )
        })?;
        let cols: Vec<&str> = line.split_whitespace().collect();
        if k == 0 {
            ncols = cols.len();
            if ncols != 3 && ncols != 5 {
                return Err(err(
                    line_no,
                    ErrorKind::Syntax(format!(
                        "a DOS row has 3 (non-spin) or 5 (spin) columns, found {ncols}"
                    )),
                ));
            }
        } else if cols.len() != ncols {
            return Err(err(
                line_no,
                ErrorKind::Syntax(format!(
                    "row has {} columns, the first row had {ncols}",
                    cols.len()
                )),
            ));
        }
        let num = |i: usize, what: &str| {
            cols[i].parse::<f64>().map_err(|_| {
                err(
                    line_no,
                    ErrorKind::InvalidNumber {
                        what: what.into(),
                        found: cols[i].into(),
                    },
                )
            })
        };
        energies.push(num(0, "energy")?);
        up.push(num(1, if ncols == 5 { "DOS (spin up)" } else { "DOS" })?);
        if ncols == 5 {
            down.push(num(2, "DOS (spin down)")?);
        }
    }
    let mut densities = vec![up];
    if ncols == 5 {
        densities.push(down);
    }
    let dos = Dos {
        kind: SpectrumKind::Electronic,
        energies,
        densities,
        efermi: Some(efermi),
        source_name: source_name.into(),
    };
    dos.check([Location::Line(7), Location::Line(7), Location::Line(7)])?;
    Ok(dos)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn three_and_five_columns() {
        let head = "1 1 1 0\nx\nx\nCAR\nsys\n  2.0 -1.0 3 0.5 1.0\n";
        let d = read_doscar(
            &format!("{head}-1.0 0.1 0.0\n0.5 0.2 0.1\n2.0 0.3 0.2\n"),
            "D",
        )
        .unwrap();
        assert_eq!(d.densities, vec![vec![0.1, 0.2, 0.3]]);
        assert_eq!(d.efermi, Some(0.5));
        let d = read_doscar(&format!("{head}-1 1 2 0 0\n0.5 3 4 0 0\n2 5 6 0 0\n"), "D").unwrap();
        assert_eq!(d.densities, vec![vec![1.0, 3.0, 5.0], vec![2.0, 4.0, 6.0]]);
        let e = read_doscar(&format!("{head}-1 1 2 0 0\n0.5 3 4 0 0\n"), "D").unwrap_err();
        assert!(matches!(e.kind, ErrorKind::Truncated(_)));
        assert_eq!(e.location, Location::Line(9));
        let e = read_doscar(&format!("{head}-1 1 2 0\n"), "D").unwrap_err();
        assert!(matches!(e.kind, ErrorKind::Syntax(_)));
    }
}
