//! Symmetry operations for CIF expansion: the `x, y, z` notation and space-group symbols
//! (Hermann–Mauguin, Hall, ITA number) resolved through moyo's Hall-symbol database.

use moyo::data::{hall_symbol_entry, HallSymbol, Setting};

/// An affine operation on fractional coordinates: `x' = rot · x + trans`.
#[derive(Debug, Clone, PartialEq)]
pub(crate) struct SymOp {
    pub rot: [[f64; 3]; 3],
    pub trans: [f64; 3],
}

impl SymOp {
    pub fn identity() -> Self {
        SymOp {
            rot: [[1.0, 0.0, 0.0], [0.0, 1.0, 0.0], [0.0, 0.0, 1.0]],
            trans: [0.0; 3],
        }
    }

    pub fn apply(&self, x: [f64; 3]) -> [f64; 3] {
        std::array::from_fn(|i| (0..3).map(|j| self.rot[i][j] * x[j]).sum::<f64>() + self.trans[i])
    }
}

/// Parses `x,y,z`, `-x+1/2, y, -z+0.5`, `x-y,x,z+1/3`, `1/2+X,Y,Z` (any case, spaces ignored).
pub(crate) fn parse_xyz(op: &str) -> Option<SymOp> {
    let cleaned: String = op
        .chars()
        .filter(|c| !c.is_whitespace())
        .collect::<String>()
        .to_ascii_lowercase();
    let parts: Vec<&str> = cleaned.split(',').collect();
    if parts.len() != 3 {
        return None;
    }
    let mut rot = [[0.0; 3]; 3];
    let mut trans = [0.0; 3];
    for (i, part) in parts.iter().enumerate() {
        let (row, t) = parse_component(part)?;
        rot[i] = row;
        trans[i] = t;
    }
    Some(SymOp { rot, trans })
}

/// One component: a sum of signed terms, each `[number][*]var`, or a number / fraction.
fn parse_component(s: &str) -> Option<([f64; 3], f64)> {
    let bytes = s.as_bytes();
    if bytes.is_empty() {
        return None;
    }
    let mut row = [0.0; 3];
    let mut trans = 0.0;
    let mut pos = 0;
    let mut any = false;
    while pos < bytes.len() {
        let mut sign = 1.0;
        if bytes[pos] == b'+' || bytes[pos] == b'-' {
            if bytes[pos] == b'-' {
                sign = -1.0;
            }
            pos += 1;
        }
        let start = pos;
        while pos < bytes.len()
            && (bytes[pos].is_ascii_digit() || bytes[pos] == b'.' || bytes[pos] == b'/')
        {
            pos += 1;
        }
        let number = if pos > start {
            Some(parse_fraction(&s[start..pos])?)
        } else {
            None
        };
        if pos < bytes.len() && bytes[pos] == b'*' {
            pos += 1;
        }
        let var = match bytes.get(pos) {
            Some(b'x') => Some(0),
            Some(b'y') => Some(1),
            Some(b'z') => Some(2),
            _ => None,
        };
        match (number, var) {
            (n, Some(k)) => {
                row[k] += sign * n.unwrap_or(1.0);
                pos += 1;
            }
            (Some(n), None) => trans += sign * n,
            (None, None) => return None,
        }
        any = true;
    }
    any.then_some((row, trans))
}

fn parse_fraction(s: &str) -> Option<f64> {
    let v = match s.split_once('/') {
        Some((n, d)) => {
            let d: f64 = d.parse().ok()?;
            if d == 0.0 {
                return None;
            }
            n.parse::<f64>().ok()? / d
        }
        None => s.parse().ok()?,
    };
    v.is_finite().then_some(v)
}

/// All operations (centring translations included) of the space group with this Hall symbol,
/// spaced (`-P 2ybc`) or compact (`-P2ybc`), or why it cannot be read. A compact symbol takes
/// the reading with the most rotations moyo accepts (`P32` is `P 3 2`); two such readings of
/// different groups are refused, not guessed.
pub(crate) fn ops_from_hall(hall: &str) -> Result<Vec<SymOp>, String> {
    let readings = super::hall::readings(hall)?;
    let groups: Vec<(String, Vec<SymOp>)> = readings
        .iter()
        .filter_map(|r| HallSymbol::new(r).filter(finite_point_group))
        .map(|hs| (hs.hall_symbol.clone(), hall_ops(&hs)))
        .collect();
    // A digit after a rotation reads as the next rotation where it can (`P42` is `P 4 2`, as
    // the 4₂ axis is written `4c`); only 3- and 6-fold screws (`P 31`) need the digit.
    let most = groups
        .iter()
        .map(|(r, _)| r.split_whitespace().count())
        .max();
    let Some((first, ops)) = groups
        .iter()
        .find(|(r, _)| Some(r.split_whitespace().count()) == most)
        .cloned()
    else {
        return Err(format!(
            "moyo does not accept it as the Hall symbol {:?}",
            readings[0]
        ));
    };
    let key = group_key(&ops);
    if let Some((other, _)) = groups
        .iter()
        .find(|(r, o)| Some(r.split_whitespace().count()) == most && group_key(o) != key)
    {
        return Err(format!(
            "without spaces it reads as two different groups, {first:?} and {other:?}"
        ));
    }
    Ok(ops)
}

/// Whether the rotations of the generators close into a crystallographic point group (at
/// most 48 elements). A wrong split of a compact symbol can pair axes that generate an
/// infinite group (`P 42 3`: a 3-fold about a with a 4-fold about c), on which moyo's
/// traversal never ends.
fn finite_point_group(hs: &HallSymbol) -> bool {
    let generators: Vec<_> = hs.generators.iter().map(|op| op.rotation).collect();
    let mut group = vec![nalgebra::Matrix3::<i32>::identity()];
    let mut i = 0;
    while i < group.len() {
        for g in &generators {
            let product = group[i] * g;
            if !group.contains(&product) {
                if group.len() == 48 {
                    return false;
                }
                group.push(product);
            }
        }
        i += 1;
    }
    true
}

fn hall_ops(hs: &HallSymbol) -> Vec<SymOp> {
    let mut out = Vec::new();
    for op in hs.traverse() {
        let rot: [[f64; 3]; 3] =
            std::array::from_fn(|i| std::array::from_fn(|j| op.rotation[(i, j)] as f64));
        let base: [f64; 3] = std::array::from_fn(|i| op.translation[i]);
        out.push(SymOp { rot, trans: base });
        for c in &hs.centering_translations {
            out.push(SymOp {
                rot,
                trans: std::array::from_fn(|i| (base[i] + c[i]).rem_euclid(1.0)),
            });
        }
    }
    out
}

/// The operations as an order-free set, translations in 24ths of the cell modulo 1, so that
/// two readings are compared as groups rather than as lists.
fn group_key(ops: &[SymOp]) -> Vec<[i64; 12]> {
    let mut key: Vec<[i64; 12]> = ops
        .iter()
        .map(|op| {
            std::array::from_fn(|k| {
                if k < 9 {
                    op.rot[k / 3][k % 3].round() as i64
                } else {
                    ((op.trans[k - 9] * 24.0).round() as i64).rem_euclid(24)
                }
            })
        })
        .collect();
    key.sort_unstable();
    key.dedup();
    key
}

fn ops_from_hall_number(hall_number: i32) -> Option<Vec<SymOp>> {
    ops_from_hall(hall_symbol_entry(hall_number)?.hall_symbol).ok()
}

/// Operations of ITA space group `number` (1–230) in its standard setting.
pub(crate) fn ops_from_number(number: i32) -> Option<Vec<SymOp>> {
    if !(1..=230).contains(&number) {
        return None;
    }
    ops_from_hall_number(Setting::Standard.hall_number(number)?)
}

fn squash(s: &str) -> String {
    s.chars()
        .filter(|c| !c.is_whitespace() && *c != '_')
        .collect::<String>()
        .to_ascii_lowercase()
}

/// Short monoclinic symbol derived from a full one: `P 1 2_1/n 1` → `P 2_1/n`.
fn drop_unit_axes(full: &str) -> Option<String> {
    let words: Vec<&str> = full.split_whitespace().collect();
    if words.len() != 4 {
        return None;
    }
    let kept: Vec<&str> = words[1..].iter().copied().filter(|w| *w != "1").collect();
    (kept.len() == 1).then(|| format!("{} {}", words[0], kept[0]))
}

/// Resolves a Hermann–Mauguin symbol (`P 63/m m c`, `P6_3/mmc`, `Fd-3m:1`, `R -3 m H`,
/// `P 1 21/n 1`, `P 21/n`) to its Hall number. Spaces, underscores and case are ignored; a
/// setting suffix (`:1`, `:2`, `:H`, `:R`, ICSD's trailing `S`/`Z`/`H`/`R`) picks the setting;
/// otherwise the standard setting wins, except that a rhombohedral cell (`rhombohedral_cell`)
/// selects rhombohedral axes for R groups.
pub(crate) fn hall_number_from_hm(symbol: &str, rhombohedral_cell: bool) -> Option<i32> {
    let symbol = symbol.trim();
    let (body, setting) = match symbol.split_once(':') {
        Some((b, s)) => (b.to_string(), Some(s.trim().to_string())),
        None => {
            let words: Vec<&str> = symbol.split_whitespace().collect();
            match words.last() {
                Some(&w) if words.len() > 1 && matches!(w, "S" | "Z" | "H" | "R") => {
                    (words[..words.len() - 1].join(" "), Some(w.to_string()))
                }
                _ => (symbol.to_string(), None),
            }
        }
    };
    let setting = setting.map(|s| match s.to_ascii_uppercase().as_str() {
        "S" => "1".to_string(),
        "Z" => "2".to_string(),
        other => other.to_string(),
    });
    let key = squash(&body);
    if key.is_empty() {
        return None;
    }
    let standard = Setting::Standard.hall_numbers();
    // Tiers of how the symbol matched: the full symbol, the short one, a derived short one.
    let mut best: Option<(u8, bool, i32)> = None;
    for hall_number in 1..=530 {
        let Some(entry) = hall_symbol_entry(hall_number) else {
            continue;
        };
        let tier = if squash(entry.hm_full) == key {
            0
        } else if squash(entry.hm_short) == key {
            1
        } else if drop_unit_axes(entry.hm_full).is_some_and(|s| squash(&s) == key) {
            2
        } else {
            continue;
        };
        if let Some(want) = &setting {
            if !entry.setting.eq_ignore_ascii_case(want) {
                continue;
            }
        }
        let preferred = if entry.setting == "R" || entry.setting == "H" {
            (entry.setting == "R") == rhombohedral_cell
        } else {
            standard.contains(&hall_number)
        };
        let candidate = (tier, !preferred, hall_number);
        if best.is_none_or(|b| candidate < b) {
            best = Some(candidate);
        }
    }
    best.map(|(_, _, h)| h)
}

/// Operations for a Hermann–Mauguin symbol (see [`hall_number_from_hm`]).
pub(crate) fn ops_from_hm(symbol: &str, rhombohedral_cell: bool) -> Option<Vec<SymOp>> {
    ops_from_hall_number(hall_number_from_hm(symbol, rhombohedral_cell)?)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn xyz_forms() {
        let op = parse_xyz("-x+1/2, y, -z+0.5").unwrap();
        assert_eq!(
            op.rot,
            [[-1.0, 0.0, 0.0], [0.0, 1.0, 0.0], [0.0, 0.0, -1.0]]
        );
        assert_eq!(op.trans, [0.5, 0.0, 0.5]);
        let op = parse_xyz("x-y,x,z+1/3").unwrap();
        assert_eq!(op.rot[0], [1.0, -1.0, 0.0]);
        assert!((op.trans[2] - 1.0 / 3.0).abs() < 1e-15);
        let op = parse_xyz("1/2+X, +Y ,Z").unwrap();
        assert_eq!(op.trans, [0.5, 0.0, 0.0]);
        assert_eq!(op.apply([0.1, 0.2, 0.3]), [0.6, 0.2, 0.3]);
        assert!(parse_xyz("x,y").is_none());
        assert!(parse_xyz("x,y,q").is_none());
        assert!(parse_xyz("x,y,z+1/0").is_none());
        assert!(parse_xyz("x,y,").is_none());
    }

    #[test]
    fn symbols_resolve() {
        assert_eq!(hall_number_from_hm("P 63/m m c", false), Some(488));
        assert_eq!(hall_number_from_hm("P6_3/mmc", false), Some(488));
        assert_eq!(hall_number_from_hm("Fm-3m", false), Some(523));
        assert_eq!(hall_number_from_hm("F d -3 m", false), Some(526));
        assert_eq!(hall_number_from_hm("F d -3 m :1", false), Some(525));
        assert_eq!(hall_number_from_hm("F d -3 m S", false), Some(525));
        assert_eq!(hall_number_from_hm("R -3 m", false), Some(458));
        assert_eq!(hall_number_from_hm("R -3 m", true), Some(459));
        assert_eq!(hall_number_from_hm("R-3m:R", false), Some(459));
        assert_eq!(hall_number_from_hm("P 21/c", false), Some(81));
        assert_eq!(hall_number_from_hm("P 1 21/n 1", false), Some(82));
        assert_eq!(hall_number_from_hm("P21/n", false), Some(82));
        assert_eq!(hall_number_from_hm("Pbnm", false), Some(294));
        assert_eq!(hall_number_from_hm("Q 42", false), None);
        assert_eq!(ops_from_hm("F m -3 m", false).unwrap().len(), 192);
        assert_eq!(ops_from_hall("-P 6c 2c").unwrap().len(), 24);
        assert_eq!(ops_from_hall("-R 3 2\"").unwrap().len(), 36);
        assert_eq!(ops_from_number(225).unwrap().len(), 192);
        assert_eq!(ops_from_number(1).unwrap(), vec![SymOp::identity()]);
        assert!(ops_from_number(231).is_none());
    }

    #[test]
    fn compact_hall_symbols_match_the_database() {
        assert_eq!(ops_from_hall("-P2ybc"), ops_from_hall("-P 2ybc"));
        assert_eq!(ops_from_hall("-P2ybc").unwrap().len(), 4);
        assert_eq!(ops_from_hall("P2ac2ab").unwrap().len(), 4);
        // Every tabulated symbol written without spaces is its own group, except where a 3-
        // or 6-fold screw digit (`P 32`) reads as the next rotation (`P 3 2`).
        for hall_number in 1..=530 {
            let entry = hall_symbol_entry(hall_number).unwrap();
            let spaced = ops_from_hall(entry.hall_symbol).unwrap();
            let compact: String = entry.hall_symbol.split_whitespace().collect();
            let screw = entry.hall_symbol.split_whitespace().any(|t| {
                let b = t.trim_start_matches('-').as_bytes();
                b.len() > 1 && matches!(b[0], b'3' | b'6') && b[1].is_ascii_digit()
            });
            let same =
                ops_from_hall(&compact).is_ok_and(|ops| group_key(&ops) == group_key(&spaced));
            assert!(same || screw, "{compact}");
        }
        for bad in ["", "-P2qbc", "Q 2", "P 2 (0 0)", "P 7"] {
            assert!(ops_from_hall(bad).is_err(), "{bad:?}");
        }
    }
}
