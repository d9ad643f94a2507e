//! What kind of materials file a path holds, decided once for the whole workspace: `data
//! import` and `inspect` both ask [`file_kind`], so a file is never a density to one and a
//! structure to the other.
//!
//! The name decides where it is unambiguous (VASP names are often decorated: `CHGCAR.Fe3O4`,
//! `Si_CHGCAR`, `POSCAR_mp-149`). A name that carries both a structure word (POSCAR, CONTCAR,
//! `.vasp`, ...) and a volumetric word (CHGCAR, AECCAR, LOCPOT, ...) is decided by content: a
//! VASP volumetric file is a POSCAR block followed by a line of three grid sizes, a CONTCAR is
//! not (at most a velocity block of real numbers follows).

use std::io::Read;
use std::path::Path;

/// A volumetric (grid) file's quantity: only charge densities become the `density` modality.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Grid {
    /// Total charge density (CHGCAR, CHG, AECCAR, cube, MP `Chgcar` JSON).
    ChargeDensity,
    /// Local potential (LOCPOT).
    Potential,
    /// Electron localisation function (ELFCAR).
    Elf,
    /// Band-decomposed partial charge density (PARCHG).
    PartialCharge,
}

/// What a file is.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum FileKind {
    /// A crystal structure (CIF, POSCAR/CONTCAR, extended XYZ).
    Structure,
    /// A density of states (vasprun.xml, DOSCAR).
    Dos,
    /// A volumetric grid of the given quantity.
    Volumetric(Grid),
    /// JSON or JSON lines: documents, a structure, a DOS or a charge density, told apart by
    /// their keys when read.
    Json,
    /// A CSV table (descriptions, labels, phonon DOS).
    Csv,
    /// Nothing the name tells; a file named explicitly may still be a structure by content
    /// ([`multimat_crystal::io::sniff_format`]).
    Unknown,
}

/// File name in lower case without `.gz`.
pub fn base_name(path: &Path) -> String {
    let n = path
        .file_name()
        .map(|n| n.to_string_lossy().to_ascii_lowercase())
        .unwrap_or_default();
    n.strip_suffix(".gz").map(str::to_string).unwrap_or(n)
}

fn structure_name(b: &str) -> bool {
    [".cif", ".mcif", ".vasp", ".poscar", ".xyz", ".extxyz"]
        .iter()
        .any(|e| b.ends_with(e))
        || b.starts_with("poscar")
        || b.starts_with("contcar")
        || b.ends_with("poscar")
        || b.ends_with("contcar")
}

fn grid_name(b: &str) -> Option<Grid> {
    if b.contains("locpot") {
        Some(Grid::Potential)
    } else if b.contains("elfcar") {
        Some(Grid::Elf)
    } else if b.contains("parchg") {
        Some(Grid::PartialCharge)
    } else if b.ends_with(".cube")
        || b.ends_with(".cub")
        || b.contains("chgcar")
        || b.contains("aeccar")
        || b == "chg"
    {
        Some(Grid::ChargeDensity)
    } else {
        None
    }
}

/// The kind a file name alone tells; a name with both a structure and a grid word reads as a
/// grid here (use [`file_kind`] to decide those by content).
pub fn kind_from_name(path: &Path) -> FileKind {
    let b = base_name(path);
    let ends = |exts: &[&str]| exts.iter().any(|e| b.ends_with(e));
    let grid = grid_name(&b);
    match grid {
        None if structure_name(&b) => FileKind::Structure,
        Some(g) if structure_name(&b) => FileKind::Volumetric(g),
        // A LOCPOT or ELFCAR is never a density, whatever its format.
        Some(g @ (Grid::Potential | Grid::Elf)) => FileKind::Volumetric(g),
        _ if ends(&[".json", ".jsonl"]) => FileKind::Json,
        _ if ends(&[".xml"]) || b.contains("doscar") => FileKind::Dos,
        Some(g) => FileKind::Volumetric(g),
        None if ends(&[".csv"]) => FileKind::Csv,
        None => FileKind::Unknown,
    }
}

/// The kind of the file at `path`: by name, and by content where the name is ambiguous (see
/// the module docs). A file that cannot be read keeps its name's kind, so the reader reports
/// the I/O error.
pub fn file_kind(path: &Path) -> FileKind {
    let b = base_name(path);
    let kind = kind_from_name(path);
    if let FileKind::Volumetric(_) = kind {
        if structure_name(&b) {
            return match head(path, HEAD_BYTES) {
                Ok((text, whole)) => match has_grid(&text, whole) {
                    Some(false) => FileKind::Structure,
                    _ => kind,
                },
                Err(_) => kind,
            };
        }
    }
    kind
}

/// How much of a file the content check reads: a POSCAR block of a few thousand atoms.
const HEAD_BYTES: usize = 1 << 18;

/// At most `n` bytes of the (decompressed) file, and whether that is the whole file.
fn head(path: &Path, n: usize) -> std::io::Result<(String, bool)> {
    let mut f = std::fs::File::open(path)?;
    let mut magic = [0u8; 2];
    let got = f.read(&mut magic)?;
    let f = std::fs::File::open(path)?;
    let mut buf = Vec::with_capacity(n.min(1 << 20));
    let limit = n as u64 + 1;
    if got == 2 && magic == [0x1f, 0x8b] {
        flate2::read::MultiGzDecoder::new(f)
            .take(limit)
            .read_to_end(&mut buf)?;
    } else {
        f.take(limit).read_to_end(&mut buf)?;
    }
    let whole = buf.len() <= n;
    buf.truncate(n);
    Ok((String::from_utf8_lossy(&buf).into_owned(), whole))
}

/// Whether a POSCAR-formatted `text` goes on with a volumetric grid (a line of three positive
/// integers after the coordinates). `None` when `text` is not a POSCAR block or stops before
/// the answer (`whole` false: only the file's head was read).
fn has_grid(text: &str, whole: bool) -> Option<bool> {
    let lines: Vec<&str> = text.lines().collect();
    let ints = |l: &str| -> Option<Vec<usize>> {
        l.split_whitespace()
            .map(|t| t.parse::<usize>().ok())
            .collect()
    };
    // Line 6 holds the species names (VASP 5) or the counts (VASP 4).
    let mut i = 5;
    let counts = match ints(lines.get(i)?) {
        Some(c) if !c.is_empty() => c,
        _ => {
            i += 1;
            ints(lines.get(i)?).filter(|c| !c.is_empty())?
        }
    };
    i += 1;
    if lines
        .get(i)?
        .trim_start()
        .to_ascii_lowercase()
        .starts_with('s')
    {
        i += 1; // Selective dynamics
    }
    i += 1; // Direct / Cartesian
    i += counts.iter().sum::<usize>();
    let next = lines[i.min(lines.len())..]
        .iter()
        .find(|l| !l.trim().is_empty());
    match next {
        Some(l) => match ints(l) {
            Some(g) if g.len() == 3 && g.iter().all(|&n| n > 0) => Some(true),
            _ => Some(false),
        },
        None if whole => Some(false),
        None => None,
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    const POSCAR: &str =
        "Si\n1.0\n5.4 0 0\n0 5.4 0\n0 0 5.4\nSi\n2\nDirect\n0 0 0\n0.25 0.25 0.25\n";

    #[test]
    fn grid_after_the_coordinates() {
        assert_eq!(has_grid(POSCAR, true), Some(false));
        let chgcar = format!("{POSCAR}\n   2   2   2\n 1.0 2.0 3.0 4.0 5.0\n 6.0 7.0 8.0\n");
        assert_eq!(has_grid(&chgcar, true), Some(true));
        // A CONTCAR's velocity block is real numbers, not grid sizes.
        let contcar = format!("{POSCAR}\n  0.00000000E+00  0.00000000E+00  0.00000000E+00\n  0.00000000E+00  0.00000000E+00  0.00000000E+00\n");
        assert_eq!(has_grid(&contcar, true), Some(false));
        assert_eq!(has_grid(POSCAR, false), None);
    }

    #[test]
    fn names() {
        let k = |n: &str| kind_from_name(Path::new(n));
        assert_eq!(k("LOCPOT"), FileKind::Volumetric(Grid::Potential));
        assert_eq!(
            k("pymatgen_LOCPOT.Li.gz"),
            FileKind::Volumetric(Grid::Potential)
        );
        assert_eq!(k("ELFCAR"), FileKind::Volumetric(Grid::Elf));
        assert_eq!(k("Si_CHGCAR"), FileKind::Volumetric(Grid::ChargeDensity));
        assert_eq!(k("CHG"), FileKind::Volumetric(Grid::ChargeDensity));
        assert_eq!(k("x.cube"), FileKind::Volumetric(Grid::ChargeDensity));
        assert_eq!(k("CONTCAR"), FileKind::Structure);
        assert_eq!(k("POSCAR_mp-149"), FileKind::Structure);
        assert_eq!(k("mp-149_chgcar.json"), FileKind::Json);
        assert_eq!(k("vasprun.xml.gz"), FileKind::Dos);
        assert_eq!(k("README"), FileKind::Unknown);
    }
}
