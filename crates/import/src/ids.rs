//! Material ids: the store's deterministic order and ids taken from file names.

use std::cmp::Ordering;
use std::path::Path;

/// The integer of an `mp-<digits>` id (`mp-149` → 149), `None` for any other id.
fn mp_number(id: &str) -> Option<u64> {
    let digits = id.strip_prefix("mp-")?;
    if digits.is_empty() || !digits.bytes().all(|b| b.is_ascii_digit()) {
        return None;
    }
    digits.parse().ok()
}

/// The order materials are written in, as the reference sorts its dictionaries: `mp-<n>` ids
/// first by the integer `n` (so `mp-2` < `mp-10`), then every other id by plain string order.
/// Two `mp-` ids with the same integer (`mp-07`, `mp-7`) fall back to string order, so this is
/// a total order.
pub fn compare_ids(a: &str, b: &str) -> Ordering {
    match (mp_number(a), mp_number(b)) {
        (Some(x), Some(y)) => x.cmp(&y).then_with(|| a.cmp(b)),
        (Some(_), None) => Ordering::Less,
        (None, Some(_)) => Ordering::Greater,
        (None, None) => a.cmp(b),
    }
}

/// Sorts ids in place with [`compare_ids`].
pub fn sort_ids(ids: &mut [String]) {
    ids.sort_by(|a, b| compare_ids(a, b));
}

/// Extensions removed from a file name to get its id (after `.gz`).
const EXTENSIONS: [&str; 14] = [
    ".cif", ".mcif", ".vasp", ".poscar", ".xyz", ".extxyz", ".json", ".jsonl", ".xml", ".cube",
    ".cub", ".csv", ".txt", ".dat",
];

/// Words that name a file's kind rather than its material; removed (case-insensitively) from the
/// start or end of a name together with the `_`, `-` or `.` that joins them to the id.
pub(crate) const KIND_WORDS: [&str; 13] = [
    "vasprun",
    "doscar",
    "chgcar",
    "aeccar0",
    "aeccar1",
    "aeccar2",
    "aeccar",
    "poscar",
    "contcar",
    "chg",
    "phonon_dos",
    "dos",
    "density",
];

/// The material id a file name gives (see the crate docs): the name without `.gz` and without
/// one known extension, then without a leading or trailing kind word (`CHGCAR_mp-149`,
/// `mp-149_CHGCAR.gz`, `mp-149_vasprun.xml` → `mp-149`). When nothing is left (a bare
/// `vasprun.xml`, `CHGCAR`, `POSCAR`), the name of the folder holding the file is the id.
/// `None` when no id can be formed (a bare kind file at the file-system root).
pub fn id_from_path(path: &Path) -> Option<String> {
    let name = path.file_name()?.to_string_lossy().to_string();
    let id = id_from_file_name(&name);
    if !id.is_empty() {
        return Some(id);
    }
    let parent = path
        .parent()?
        .file_name()?
        .to_string_lossy()
        .trim()
        .to_string();
    (!parent.is_empty()).then_some(parent)
}

/// [`id_from_path`] on a bare file name, without the folder fallback (may return `""`).
pub fn id_from_file_name(name: &str) -> String {
    let mut s = name.trim().to_string();
    if s.to_ascii_lowercase().ends_with(".gz") {
        s.truncate(s.len() - 3);
    }
    let lower = s.to_ascii_lowercase();
    if let Some(ext) = EXTENSIONS.iter().find(|e| lower.ends_with(*e)) {
        s.truncate(s.len() - ext.len());
    }
    strip_kind_word(&s).trim().to_string()
}

fn strip_kind_word(s: &str) -> &str {
    let lower = s.to_ascii_lowercase();
    let seps: &[char] = &['_', '-', '.'];
    for w in KIND_WORDS {
        if lower == w {
            return "";
        }
        if lower.starts_with(w) && lower[w.len()..].starts_with(seps) {
            return s[w.len()..].trim_start_matches(seps);
        }
        if lower.ends_with(w) && lower[..lower.len() - w.len()].ends_with(seps) {
            return s[..s.len() - w.len()].trim_end_matches(seps);
        }
    }
    s
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn names() {
        assert_eq!(id_from_file_name("mp-149.cif"), "mp-149");
        assert_eq!(id_from_file_name("mp-149_CHGCAR.gz"), "mp-149");
        assert_eq!(id_from_file_name("CHGCAR_mp-149"), "mp-149");
        assert_eq!(id_from_file_name("mp-149_vasprun.xml.gz"), "mp-149");
        assert_eq!(id_from_file_name("Li_nospin_chgcar.json.gz"), "Li_nospin");
        assert_eq!(id_from_file_name("vasprun.xml"), "");
        assert_eq!(id_from_file_name("NaCl.vasp"), "NaCl");
        assert_eq!(
            id_from_path(Path::new("runs/mp-13/CHGCAR")).as_deref(),
            Some("mp-13")
        );
    }

    #[test]
    fn order() {
        let mut v: Vec<String> = ["mvc-1", "mp-10", "dielectric-3", "mp-2", "mp-1000", "mp-x"]
            .map(String::from)
            .to_vec();
        sort_ids(&mut v);
        assert_eq!(
            v,
            ["mp-2", "mp-10", "mp-1000", "dielectric-3", "mp-x", "mvc-1"]
        );
    }
}
