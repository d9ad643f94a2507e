//! Hall symbols as files write them, turned into the spaced form moyo's parser reads.
//!
//! moyo splits a Hall symbol on whitespace and reads only the first character or two of the
//! lattice token, so the compact form COD writes (`-P2ybc` for `-P 2ybc`) silently loses
//! every rotation and becomes P -1. It also panics on some malformed tokens. Everything is
//! therefore checked here against the grammar moyo implements, token by token:
//!
//! * lattice: an optional `-` (inversion at the origin), then one of `P A B C I R F`;
//! * rotation: an optional `-`, the order `1 2 3 4 6`, an optional prime (`^`/`=`, or `'`/`"`
//!   as CIF writes them), an optional axis `x y z *`, then translations: screw subscripts
//!   (digits below the order) and the letters `a b c n u v w d`;
//! * origin shift: `(i j k)` in twelfths, last.
//!
//! Without spaces a digit after a rotation can be a screw subscript or the next rotation
//! (`P32` is `P 32`, P 3₂, or `P 3 2`, P 3 1 2), so a compact symbol yields every reading and
//! the caller picks among them. In a spaced symbol the writer's spaces settle this: such a
//! digit stays in its token.

/// More readings than this means the text is not a Hall symbol anyone wrote.
const MAX_READINGS: usize = 64;

/// Every spaced reading of `hall` that follows the grammar, or why there is none.
pub(crate) fn readings(hall: &str) -> Result<Vec<String>, String> {
    let symbol = hall.trim().replace('\'', "^").replace('"', "=");
    if symbol.is_empty() {
        return Err("the symbol is empty".into());
    }
    if !symbol.is_ascii() {
        return Err("the symbol has a non-ASCII character".into());
    }
    let (head, shift) = match symbol.find('(') {
        Some(i) => (&symbol[..i], Some(origin_shift(&symbol[i..])?)),
        None => (symbol.as_str(), None),
    };
    let head = head.trim();
    let (lattice, rest) = lattice(head)?;
    let spaced = head.contains(char::is_whitespace);
    let mut readings: Vec<Vec<String>> = vec![Vec::new()];
    for chunk in rest.split_whitespace() {
        let splits = segment(chunk.as_bytes(), !spaced)?;
        let mut next = Vec::new();
        for done in &readings {
            for split in &splits {
                next.push(done.iter().chain(split).cloned().collect());
            }
        }
        if next.len() > MAX_READINGS {
            return Err("too many ways to split the symbol into rotations".into());
        }
        readings = next;
    }
    Ok(readings
        .into_iter()
        .map(|tokens| {
            let mut words = vec![lattice.to_string()];
            words.extend(tokens);
            words.extend(shift.clone());
            words.join(" ")
        })
        .collect())
}

/// Splits the lattice symbol off the front of the symbol: `(lattice, rest)`.
fn lattice(head: &str) -> Result<(&str, &str), String> {
    let len = if head.starts_with('-') { 2 } else { 1 };
    match head.as_bytes().get(len - 1) {
        Some(b'P' | b'A' | b'B' | b'C' | b'I' | b'R' | b'F') => Ok((&head[..len], &head[len..])),
        _ => Err(format!(
            "{head:?} does not start with a lattice symbol (P, A, B, C, I, R or F, \
             optionally after -)"
        )),
    }
}

/// `(0 0 1)`, `(0,0,-1)` → `(0 0 1)`: three whole twelfths and nothing after the bracket.
fn origin_shift(text: &str) -> Result<String, String> {
    let bad = || format!("origin shift {text:?} is not three integers in brackets");
    let inner = text
        .strip_prefix('(')
        .and_then(|t| t.trim_end().strip_suffix(')'))
        .ok_or_else(bad)?;
    let parts: Vec<&str> = inner
        .split(|c: char| c.is_whitespace() || c == ',')
        .filter(|p| !p.is_empty())
        .collect();
    if parts.len() != 3 || parts.iter().any(|p| p.parse::<i32>().is_err()) {
        return Err(bad());
    }
    Ok(format!("({})", parts.join(" ")))
}

/// The ways `chunk` splits into rotation tokens; with `branch` false an ambiguous digit is
/// read as a screw subscript, so there is at most one way.
fn segment(chunk: &[u8], branch: bool) -> Result<Vec<Vec<String>>, String> {
    if chunk.is_empty() {
        return Ok(vec![Vec::new()]);
    }
    let text = String::from_utf8_lossy(chunk);
    let mut pos = usize::from(chunk[0] == b'-');
    let order = match chunk.get(pos) {
        Some(&c @ (b'1' | b'2' | b'3' | b'4' | b'6')) => c - b'0',
        _ => {
            return Err(format!(
                "{text:?} does not start with a rotation order (1, 2, 3, 4 or 6, optionally \
                 after -)"
            ))
        }
    };
    pos += 1;
    if matches!(chunk.get(pos), Some(b'^' | b'=')) {
        pos += 1;
    }
    if matches!(chunk.get(pos), Some(b'x' | b'y' | b'z' | b'*')) {
        pos += 1;
    }
    let mut out = Vec::new();
    loop {
        let Some(&c) = chunk.get(pos) else {
            out.push(vec![text.to_string()]);
            return Ok(out);
        };
        let screw = c.is_ascii_digit() && (b'1'..b'0' + order).contains(&c);
        let starts_rotation = matches!(c, b'-' | b'1' | b'2' | b'3' | b'4' | b'6');
        if starts_rotation && (branch || !screw) {
            let head = String::from_utf8_lossy(&chunk[..pos]).into_owned();
            // A bare 1 or -1 is no operation anyone writes; as a split it only hides a screw.
            let bare_one = matches!(head.as_str(), "1" | "-1");
            match segment(&chunk[pos..], branch).and_then(|t| {
                if bare_one && screw {
                    Err(String::new())
                } else {
                    Ok(t)
                }
            }) {
                Ok(tails) => out.extend(tails.into_iter().map(|mut tail| {
                    tail.insert(0, head.clone());
                    tail
                })),
                // The screw reading may still work; its error is the one to report if not.
                Err(_) if screw => {}
                Err(e) => return if out.is_empty() { Err(e) } else { Ok(out) },
            }
            if !screw {
                return Ok(out);
            }
        } else if !screw && !b"abcnuvwd".contains(&c) {
            let e = format!("unexpected {:?} in {text:?}", c as char);
            return if out.is_empty() { Err(e) } else { Ok(out) };
        }
        pos += 1;
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn compact_and_spaced_forms() {
        assert_eq!(readings("-P2ybc").unwrap(), ["-P 2ybc"]);
        assert_eq!(readings("-P 2ybc").unwrap(), ["-P 2ybc"]);
        assert_eq!(readings("-P2yn").unwrap(), ["-P 2yn"]);
        assert_eq!(readings("P2ac2ab").unwrap(), ["P 2ac 2ab"]);
        assert_eq!(readings("-P2\"").unwrap(), ["-P 2="]);
        assert_eq!(readings("C22-1ac").unwrap(), ["C 2 2 -1ac"]);
        assert_eq!(readings("-R3 2\"").unwrap(), ["-R 3 2="]);
        // moyo rejects the other reading, `P 6 1 2`: a third rotation needs an axis.
        assert!(readings("P612(0,0,-1)")
            .unwrap()
            .contains(&"P 61 2 (0 0 -1)".to_string()));
        assert_eq!(readings("P 32").unwrap(), ["P 32"]);
        let mut both = readings("P32").unwrap();
        both.sort();
        assert_eq!(both, ["P 3 2", "P 32"]);
    }

    #[test]
    fn malformed_symbols_are_explained() {
        for bad in [
            "",
            "Q 2",
            "-",
            "P 2q",
            "P 5",
            "P 2 (0 0)",
            "P 2 (0 0 1) x",
            "P 2é",
        ] {
            assert!(readings(bad).is_err(), "{bad:?}");
        }
        assert!(readings("P 2q").unwrap_err().contains("'q'"));
    }
}
