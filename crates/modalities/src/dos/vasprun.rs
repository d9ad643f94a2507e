//! Total density of states from VASP `vasprun.xml`, stream-parsed (no DOM: the files reach tens of
//! MB and the DOS is a small part near the end).
//!
//! Read: `<dos><i name="efermi">` (eV) and `<dos><total><array><set><set comment="spin N">` with rows
//! `<r>E total integrated</r>`. Projected DOS (`<partial>`) is skipped. When a file has several
//! `<dos>` elements the last one wins, as in pymatgen; VASP 6's `<dos comment="kpoints_opt">` is
//! skipped. The number of spin sets is checked against `ISPIN` from `<parameters>` when present.

use quick_xml::errors::{Error as XmlError, SyntaxError};
use quick_xml::events::{BytesStart, Event};
use quick_xml::Reader;

use super::{line_of, Dos, SpectrumKind};
use crate::{Error, ErrorKind, Location};

#[derive(Default)]
struct DosBlock {
    efermi: Option<f64>,
    energies: Vec<f64>,
    spins: Vec<Vec<f64>>,
    /// Energies of the spin set being read (checked against spin 1).
    current_energies: Vec<f64>,
    seen_total: bool,
}

/// Reads the total DOS of a vasprun.xml (energies absolute, eV; densities states/eV).
pub fn read_vasprun_dos(text: &str, source_name: &str) -> Result<Dos, Error> {
    let mut reader = Reader::from_str(text);
    let err_at = |pos: u64, kind: ErrorKind| {
        Error::new(
            source_name,
            Location::Line(line_of(text, pos as usize)),
            kind,
        )
    };
    // Element path as names; depth-tracking flags derived from it.
    let mut path: Vec<Vec<u8>> = Vec::new();
    let mut ispin: Option<usize> = None;
    let mut dos_depth: Option<usize> = None;
    let mut block = DosBlock::default();
    let mut result: Option<DosBlock> = None;
    let mut capture: Option<Capture> = None;
    let mut text_buf = String::new();
    let mut closed_modeling = false;
    loop {
        let pos = reader.buffer_position();
        let event = reader.read_event().map_err(|e| {
            let at = reader.error_position();
            match e {
                XmlError::Syntax(
                    s @ (SyntaxError::UnclosedTag
                    | SyntaxError::UnclosedComment
                    | SyntaxError::UnclosedCData
                    | SyntaxError::UnclosedDoctype
                    | SyntaxError::UnclosedPIOrXmlDecl),
                ) => err_at(
                    at,
                    ErrorKind::Truncated(format!("XML ends inside markup ({s})")),
                ),
                other => err_at(at, ErrorKind::Syntax(format!("invalid XML: {other}"))),
            }
        })?;
        match event {
            Event::Start(e) => {
                let name = e.name().as_ref().to_vec();
                path.push(name);
                let depth = path.len();
                let in_parameters = path.iter().any(|p| p == b"parameters");
                match path[depth - 1].as_slice() {
                    b"dos" if dos_depth.is_none() => {
                        let comment = attr(&e, b"comment");
                        if comment.as_deref().is_none_or(|c| c.trim().is_empty()) {
                            dos_depth = Some(depth);
                            block = DosBlock::default();
                        }
                    }
                    b"i" => {
                        let name = attr(&e, b"name");
                        let name = name.as_deref().map(str::trim);
                        if dos_depth == Some(depth - 1) && name == Some("efermi") {
                            capture = Some(Capture::Efermi);
                        } else if in_parameters && name == Some("ISPIN") {
                            capture = Some(Capture::Ispin);
                        }
                        text_buf.clear();
                    }
                    b"total" if dos_depth == Some(depth - 1) => block.seen_total = true,
                    b"set"
                        if in_total_array(&path, dos_depth)
                            && attr(&e, b"comment")
                                .is_some_and(|c| c.trim().starts_with("spin")) =>
                    {
                        block.current_energies.clear();
                        block.spins.push(Vec::new());
                    }
                    b"r" if in_total_array(&path, dos_depth) && !block.spins.is_empty() => {
                        capture = Some(Capture::Row);
                        text_buf.clear();
                    }
                    _ => {}
                }
            }
            Event::Text(t) if capture.is_some() => {
                let s = t
                    .decode()
                    .map_err(|e| err_at(pos, ErrorKind::Syntax(format!("bad text: {e}"))))?;
                text_buf.push_str(&s);
            }
            Event::End(_) => {
                let depth = path.len();
                let Some(name) = path.pop() else {
                    return Err(err_at(
                        pos,
                        ErrorKind::Syntax("closing tag without an opening tag".into()),
                    ));
                };
                match (name.as_slice(), capture.take()) {
                    (b"i", Some(Capture::Efermi)) => {
                        block.efermi =
                            Some(parse_number(&text_buf, "Fermi energy (efermi)", || {
                                err_line(text, source_name, pos)
                            })?);
                    }
                    (b"i", Some(Capture::Ispin)) => {
                        let v = text_buf.trim();
                        ispin = Some(v.parse().map_err(|_| {
                            err_at(
                                pos,
                                ErrorKind::InvalidNumber {
                                    what: "ISPIN".into(),
                                    found: v.into(),
                                },
                            )
                        })?);
                    }
                    (b"r", Some(Capture::Row)) => {
                        let mut cols = text_buf.split_whitespace();
                        let (Some(e), Some(d)) = (cols.next(), cols.next()) else {
                            return Err(err_at(
                                pos,
                                ErrorKind::Syntax(format!(
                                    "total DOS row needs energy and density, found {:?}",
                                    text_buf.trim()
                                )),
                            ));
                        };
                        let e = parse_number(e, "energy", || err_line(text, source_name, pos))?;
                        let d = parse_number(d, "total DOS", || err_line(text, source_name, pos))?;
                        block.current_energies.push(e);
                        if let Some(curve) = block.spins.last_mut() {
                            curve.push(d);
                        }
                    }
                    (b"set", _) if in_total_array_at(&path, dos_depth, depth) => {
                        finish_spin_set(&mut block, &path, dos_depth, text, source_name, pos)?;
                    }
                    (b"dos", _) if dos_depth == Some(depth) => {
                        dos_depth = None;
                        if block.seen_total {
                            result = Some(std::mem::take(&mut block));
                        }
                    }
                    (b"modeling", _) if depth == 1 => closed_modeling = true,
                    _ => {}
                }
            }
            Event::Eof => break,
            _ => {}
        }
    }
    if dos_depth.is_some() {
        return Err(Error::new(
            source_name,
            Location::Tag("dos".into()),
            ErrorKind::Truncated("file ends inside <dos>".into()),
        ));
    }
    let Some(block) = result else {
        let kind = if closed_modeling {
            ErrorKind::Syntax(
                "no total density of states (<dos><total>) in this vasprun.xml (e.g. a band-structure or relaxation run)"
                    .into(),
            )
        } else {
            ErrorKind::Truncated("file ends before </modeling> and before any <dos> section".into())
        };
        return Err(Error::new(source_name, Location::Tag("dos".into()), kind));
    };
    let tag = |t: &str| Location::Tag(t.into());
    if block.spins.is_empty() {
        return Err(Error::new(
            source_name,
            tag("dos/total"),
            ErrorKind::Syntax("<total> has no <set comment=\"spin 1\"> block".into()),
        ));
    }
    if let Some(n) = ispin {
        if n != block.spins.len() {
            return Err(Error::new(
                source_name,
                tag("dos/total"),
                ErrorKind::Syntax(format!(
                    "ISPIN = {n} but the total DOS has {} spin block(s)",
                    block.spins.len()
                )),
            ));
        }
    }
    let dos = Dos {
        kind: SpectrumKind::Electronic,
        energies: block.energies,
        densities: block.spins,
        efermi: block.efermi,
        source_name: source_name.into(),
    };
    dos.check([
        tag("dos/total (energies)"),
        tag("dos/total/spin 1"),
        tag("dos/total/spin 2"),
    ])?;
    if dos.efermi.is_none() {
        return Err(Error::new(
            source_name,
            tag("dos"),
            ErrorKind::Syntax("no <i name=\"efermi\"> in <dos>".into()),
        ));
    }
    Ok(dos)
}

#[derive(Clone, Copy)]
enum Capture {
    Efermi,
    Ispin,
    Row,
}

/// True when the innermost open elements are `dos/total/array/set/set...` (the total DOS sets).
fn in_total_array(path: &[Vec<u8>], dos_depth: Option<usize>) -> bool {
    in_total_array_at(path, dos_depth, path.len())
}

fn in_total_array_at(path: &[Vec<u8>], dos_depth: Option<usize>, upto: usize) -> bool {
    let Some(d) = dos_depth else { return false };
    // path[d-1] = dos, path[d] = total, path[d+1] = array, path[d+2..] = set / r.
    path.len() > d + 1 && upto > d + 2 && path[d] == b"total" && path[d + 1] == b"array"
}

fn finish_spin_set(
    block: &mut DosBlock,
    path: &[Vec<u8>],
    dos_depth: Option<usize>,
    text: &str,
    source_name: &str,
    pos: u64,
) -> Result<(), Error> {
    // Only the inner per-spin sets (one level below the outer <set>) carry rows.
    let Some(d) = dos_depth else { return Ok(()) };
    if path.len() != d + 3 || block.current_energies.is_empty() {
        return Ok(());
    }
    let energies = std::mem::take(&mut block.current_energies);
    if block.spins.len() == 1 {
        block.energies = energies;
    } else if energies.len() != block.energies.len() {
        return Err(Error::new(
            source_name,
            Location::Line(line_of(text, pos as usize)),
            ErrorKind::Syntax(format!(
                "spin blocks differ in length: {} points spin 1, {} spin {}",
                block.energies.len(),
                energies.len(),
                block.spins.len()
            )),
        ));
    }
    Ok(())
}

fn attr(e: &BytesStart<'_>, key: &[u8]) -> Option<String> {
    e.try_get_attribute(key)
        .ok()
        .flatten()
        .map(|a| String::from_utf8_lossy(&a.value).into_owned())
}

fn err_line(text: &str, source_name: &str, pos: u64) -> Error {
    Error::new(
        source_name,
        Location::Line(line_of(text, pos as usize)),
        ErrorKind::Syntax(String::new()),
    )
}

fn parse_number(s: &str, what: &str, place: impl Fn() -> Error) -> Result<f64, Error> {
    let s = s.trim();
    s.parse::<f64>().map_err(|_| {
        let mut e = place();
        e.kind = ErrorKind::InvalidNumber {
            what: what.into(),
            found: s.into(),
        };
        e
    })
}

#[cfg(test)]
mod tests {
    use super::*;

    const TINY: &str = r#"<?xml version="1.0"?>
<modeling>
 <parameters><separator name="electronic"><i type="int" name="ISPIN">     1</i></separator></parameters>
 <calculation>
  <dos>
   <i name="efermi">      1.5 </i>
   <total><array><set>
      <set comment="spin 1">
       <r>    -1.0     0.5     0.0 </r>
       <r>     0.0     1.5     1.0 </r>
       <r>     1.0     2.5     3.0 </r>
      </set>
   </set></array></total>
   <partial><array><set><set comment="ion 1"><set comment="spin 1"><r> 9 9 9 </r></set></set></set></array></partial>
  </dos>
 </calculation>
</modeling>
"#;

    #[test]
    fn tiny_vasprun() {
        let d = read_vasprun_dos(TINY, "t.xml").unwrap();
        assert_eq!(d.energies, vec![-1.0, 0.0, 1.0]);
        assert_eq!(d.densities, vec![vec![0.5, 1.5, 2.5]]);
        assert_eq!(d.efermi, Some(1.5));
    }

    #[test]
    fn ispin_mismatch_and_bad_numbers() {
        let two = TINY.replace("     1</i>", "     2</i>");
        let e = read_vasprun_dos(&two, "t.xml").unwrap_err();
        assert!(
            matches!(&e.kind, ErrorKind::Syntax(m) if m.contains("ISPIN = 2")),
            "{e}"
        );
        let bad = TINY.replace("1.5     1.0", "x.5     1.0");
        let e = read_vasprun_dos(&bad, "t.xml").unwrap_err();
        assert!(matches!(e.kind, ErrorKind::InvalidNumber { .. }), "{e}");
        assert_eq!(e.location, Location::Line(10));
    }

    #[test]
    fn truncated_inside_dos() {
        let cut = &TINY[..TINY.find("<r>     1.0").unwrap()];
        let e = read_vasprun_dos(cut, "t.xml").unwrap_err();
        assert!(matches!(e.kind, ErrorKind::Truncated(_)), "{e}");
    }
}
