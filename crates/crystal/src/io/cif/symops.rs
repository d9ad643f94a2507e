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

/// All operations (centring translations included) of the space group with this Hall symbol.
pub(crate) fn ops_from_hall(hall: &str) -> Option<Vec<SymOp>> {
    // CIF writes the primed axes of Hall notation as ' and ", moyo as ^ and =.
    let symbol = hall.trim().replace('\'', "^").replace('"', "=");
    let hs = HallSymbol::new(&symbol)?;
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
    Some(out)
}

fn ops_from_hall_number(hall_number: i32) -> Option<Vec<SymOp>> {
    ops_from_hall(hall_symbol_entry(hall_number)?.hall_symbol)
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
}
