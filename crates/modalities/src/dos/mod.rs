//! Densities of states: readers for the files people have on disk, and the exact model input the
//! MultiMat reference builds from them (spec §1.3).
//!
//! Formats read (all optionally gzip-compressed; [`read_dos`] tells them apart by name and content):
//! * pymatgen `Dos` / `CompleteDos` JSON and the Materials Project API row shape ([`pymatgen`]);
//! * VASP `vasprun.xml` total DOS, stream-parsed ([`vasprun`]);
//! * VASP `DOSCAR` total DOS ([`doscar`]);
//! * pymatgen `PhononDos` / `CompletePhononDos` JSON ([`pymatgen`]) and the `phfreq`/`phdos` CSV table
//!   of the phonon-DOS tutorial data set ([`phonon`]).
//!
//! A [`Dos`] keeps energies absolute (not shifted by E_F); the shift, NaN repair and resampling to
//! 601 points happen in [`model_input`].

pub mod doscar;
pub mod input;
pub mod phonon;
pub mod pymatgen;
pub mod vasprun;

use std::path::Path;

use multimat_crystal::io::read_text;

use crate::{Error, ErrorKind, Location};

pub use input::{
    model_input, repair_nans, DosInput, DosInputOptions, Resampling, SpinChannel, DOS_INPUT_LEN,
};
pub use phonon::{read_phonondos_csv, read_phonondos_csv_file};

/// Unit of a phonon spectrum's frequency axis.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub enum FrequencyUnit {
    /// Terahertz (pymatgen's `PhononDos`).
    Thz,
    /// Wavenumbers, cm⁻¹ (the phonon-DOS CSV table).
    InverseCm,
}

/// What the energy axis of a [`Dos`] means.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub enum SpectrumKind {
    /// Electronic DOS: axis in eV (absolute, as the code wrote it), densities in states/eV.
    Electronic,
    /// Phonon DOS: axis is a frequency in `unit`, densities in states per that unit (or
    /// max-normalised, as in the CSV table).
    Phonon { unit: FrequencyUnit },
}

/// A total density of states on one energy (or frequency) grid.
#[derive(Debug, Clone, PartialEq)]
pub struct Dos {
    pub kind: SpectrumKind,
    /// Grid, ascending: eV for electronic spectra (absolute, not shifted by E_F), the stated
    /// frequency unit for phonons.
    pub energies: Vec<f64>,
    /// One curve per spin, each as long as `energies`: `[total]` / `[up]`, or `[up, down]`
    /// (states/eV for electronic spectra).
    pub densities: Vec<Vec<f64>>,
    /// Fermi energy, eV (electronic only; `None` when the file has none, always `None` for phonons).
    pub efermi: Option<f64>,
    /// The file (or file:row) this came from; used to name the source in later errors.
    pub source_name: String,
}

impl Dos {
    /// True when there are two spin channels.
    pub fn spin_polarized(&self) -> bool {
        self.densities.len() == 2
    }

    /// Number of grid points.
    pub fn npoints(&self) -> usize {
        self.energies.len()
    }

    /// Integral of each spin's DOS over `[lo, hi]` (absolute axis values, e.g. eV), one number
    /// per spin (states for an electronic DOS).
    ///
    /// The DOS is taken as piecewise linear between grid points (the same curve `np.interp`
    /// draws), so the trapezoid rule over the grid points inside the window plus the two window
    /// edges, with the edge values linearly interpolated, is exact for it. The window is clipped
    /// to the grid: nothing is extrapolated, and a window outside the grid gives 0. A NaN density
    /// inside the window, or a NaN anywhere on the grid, makes the result NaN (repair NaNs first).
    pub fn window_integral(&self, lo: f64, hi: f64) -> Vec<f64> {
        self.densities
            .iter()
            .map(|d| window_integral(&self.energies, d, lo, hi))
            .collect()
    }

    /// [`Dos::window_integral`] over `[E_F − half_width, E_F + half_width]` (eV); `None` without a
    /// Fermi energy. The nMAE window of spec §5.2 is `half_width = 5`.
    pub fn fermi_window_integral(&self, half_width: f64) -> Option<Vec<f64>> {
        self.efermi
            .map(|ef| self.window_integral(ef - half_width, ef + half_width))
    }

    /// Checks the shape: at least 2 points, 1 or 2 spin curves as long as the grid, no infinite
    /// values, grid ascending (NaN points are skipped; they are repaired later).
    pub fn validate(&self) -> Result<(), Error> {
        self.check([
            Location::Key("energies".into()),
            Location::Key("densities[up]".into()),
            Location::Key("densities[down]".into()),
        ])
    }

    /// [`Dos::validate`] with reader-specific places for the grid and the two spin curves.
    pub(crate) fn check(&self, places: [Location; 3]) -> Result<(), Error> {
        let [grid_place, up_place, down_place] = places;
        let err = |place: Location, kind: ErrorKind| Error::new(&self.source_name, place, kind);
        let n = self.energies.len();
        if n < 2 {
            return Err(err(
                grid_place,
                ErrorKind::Truncated(format!("{n} grid point(s); a spectrum needs at least 2")),
            ));
        }
        match self.densities.len() {
            1 | 2 => {}
            k => {
                return Err(err(
                    up_place,
                    ErrorKind::Syntax(format!(
                        "{k} density curves; expected 1 (total) or 2 (spin up, down)"
                    )),
                ))
            }
        }
        for (s, curve) in self.densities.iter().enumerate() {
            let place = if s == 0 {
                up_place.clone()
            } else {
                down_place.clone()
            };
            if curve.len() != n {
                let what = if s == 0 {
                    format!("{n} energies but {} densities", curve.len())
                } else {
                    format!(
                        "spin blocks differ in length: {} points spin up, {} spin down",
                        self.densities[0].len(),
                        curve.len()
                    )
                };
                return Err(err(place, ErrorKind::Syntax(what)));
            }
            if let Some(i) = curve.iter().position(|v| v.is_infinite()) {
                return Err(err(
                    place,
                    ErrorKind::InvalidNumber {
                        what: format!("density at point {i}"),
                        found: curve[i].to_string(),
                    },
                ));
            }
        }
        if let Some(i) = self.energies.iter().position(|v| v.is_infinite()) {
            return Err(err(
                grid_place,
                ErrorKind::InvalidNumber {
                    what: format!("energy at point {i}"),
                    found: self.energies[i].to_string(),
                },
            ));
        }
        let mut last: Option<(usize, f64)> = None;
        for (i, &e) in self.energies.iter().enumerate() {
            if e.is_nan() {
                continue;
            }
            if let Some((j, prev)) = last {
                if e < prev {
                    return Err(err(
                        grid_place,
                        ErrorKind::Syntax(format!(
                            "grid is not ascending: point {j} = {prev}, point {i} = {e}"
                        )),
                    ));
                }
            }
            last = Some((i, e));
        }
        if let Some(ef) = self.efermi {
            if !ef.is_finite() {
                return Err(err(
                    Location::Key("efermi".into()),
                    ErrorKind::InvalidNumber {
                        what: "Fermi energy".into(),
                        found: ef.to_string(),
                    },
                ));
            }
        }
        Ok(())
    }
}

/// Trapezoid of the piecewise-linear curve (x, y) over `[lo, hi]` clipped to x's range.
pub(crate) fn window_integral(x: &[f64], y: &[f64], lo: f64, hi: f64) -> f64 {
    let n = x.len().min(y.len());
    if n < 2 {
        return 0.0;
    }
    if x[..n].iter().any(|v| v.is_nan()) {
        // Without a grid position the curve is undefined; NaN says so instead of a silent number.
        return f64::NAN;
    }
    let a = lo.max(x[0]);
    let b = hi.min(x[n - 1]);
    if !(a < b) {
        return 0.0;
    }
    let mut total = 0.0;
    for i in 0..n - 1 {
        let (x0, x1) = (x[i], x[i + 1]);
        let (s, t) = (x0.max(a), x1.min(b));
        if !(s < t) {
            continue;
        }
        let at = |v: f64| {
            if v == x0 {
                y[i]
            } else if v == x1 {
                y[i + 1]
            } else {
                y[i] + (y[i + 1] - y[i]) * (v - x0) / (x1 - x0)
            }
        };
        total += 0.5 * (t - s) * (at(s) + at(t));
    }
    total
}

/// Which reader a text belongs to.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum DosFormat {
    /// pymatgen `Dos`/`CompleteDos`/`PhononDos` JSON or an MP API row.
    Json,
    /// VASP vasprun.xml.
    Vasprun,
    /// VASP DOSCAR.
    Doscar,
    /// The `mp_id,structure,phfreq,phdos` phonon CSV table (many spectra; see [`read_phonondos_csv`]).
    PhononCsv,
}

/// Tells the format from the content alone.
pub fn sniff_dos_format(text: &str) -> Option<DosFormat> {
    let t = text.trim_start_matches('\u{feff}').trim_start();
    if t.starts_with('{') {
        return Some(DosFormat::Json);
    }
    if t.starts_with('<') {
        return Some(DosFormat::Vasprun);
    }
    let first = t.lines().next().unwrap_or("");
    if first.contains("phfreq") && first.contains("phdos") {
        return Some(DosFormat::PhononCsv);
    }
    let sixth = text.lines().nth(5).unwrap_or("");
    let fields: Vec<&str> = sixth.split_whitespace().collect();
    if fields.len() >= 4 && fields.iter().take(4).all(|f| f.parse::<f64>().is_ok()) {
        return Some(DosFormat::Doscar);
    }
    None
}

/// Parses a DOS from text whose format is told by content; `source_name` names it in errors.
/// The phonon CSV table holds many spectra and is refused here (use [`read_phonondos_csv`]).
pub fn parse_dos(text: &str, source_name: &str) -> Result<Dos, Error> {
    parse_dos_as(text, source_name, sniff_dos_format(text))
}

fn parse_dos_as(text: &str, source_name: &str, format: Option<DosFormat>) -> Result<Dos, Error> {
    match format {
        Some(DosFormat::Json) => pymatgen::read_dos_json(text, source_name),
        Some(DosFormat::Vasprun) => vasprun::read_vasprun_dos(text, source_name),
        Some(DosFormat::Doscar) => doscar::read_doscar(text, source_name),
        Some(DosFormat::PhononCsv) => Err(Error::new(
            source_name,
            Location::File,
            ErrorKind::Unsupported(
                "this is a table of many phonon DOS (mp_id, structure, phfreq, phdos); read it with read_phonondos_csv"
                    .into(),
            ),
        )),
        None => Err(Error::new(
            source_name,
            Location::File,
            ErrorKind::Unsupported("cannot tell the DOS format (expected pymatgen JSON, vasprun.xml or DOSCAR)".into()),
        )),
    }
}

/// Reads one DOS file (optionally `.gz`): pymatgen/MP JSON, vasprun.xml or DOSCAR, told apart by
/// the file name (`*.json`, `*.xml`, `DOSCAR*`) and then by content.
pub fn read_dos(path: &Path) -> Result<Dos, Error> {
    let name = path.display().to_string();
    let text = read_text(path)?;
    let file = path
        .file_name()
        .map(|f| f.to_string_lossy().to_ascii_lowercase())
        .unwrap_or_default();
    let file = file.strip_suffix(".gz").unwrap_or(&file);
    let format = if file.ends_with(".json") {
        Some(DosFormat::Json)
    } else if file.ends_with(".xml") {
        Some(DosFormat::Vasprun)
    } else if file.starts_with("doscar") {
        Some(DosFormat::Doscar)
    } else {
        sniff_dos_format(&text)
    };
    parse_dos_as(&text, &name, format)
}

/// 1-based line of byte offset `pos` in `text` (for error messages).
pub(crate) fn line_of(text: &str, pos: usize) -> usize {
    let pos = pos.min(text.len());
    text.as_bytes()[..pos]
        .iter()
        .filter(|&&b| b == b'\n')
        .count()
        + 1
}

#[cfg(test)]
mod tests {
    use super::*;

    fn dos(e: Vec<f64>, d: Vec<Vec<f64>>) -> Dos {
        Dos {
            kind: SpectrumKind::Electronic,
            energies: e,
            densities: d,
            efermi: Some(0.0),
            source_name: "t".into(),
        }
    }

    #[test]
    fn window_integral_interpolates_edges() {
        // y = x on [0, 4]: integral over [1, 3] is (9 - 1) / 2 = 4, with edges between grid points.
        let d = dos(vec![0.0, 2.0, 4.0], vec![vec![0.0, 2.0, 4.0]]);
        assert!((d.window_integral(1.0, 3.0)[0] - 4.0).abs() < 1e-12);
        assert!((d.window_integral(0.5, 0.7)[0] - 0.5 * 0.2 * 1.2).abs() < 1e-12);
        // clipped to the grid, no extrapolation
        assert!((d.window_integral(-10.0, 10.0)[0] - 8.0).abs() < 1e-12);
        assert_eq!(d.window_integral(5.0, 6.0)[0], 0.0);
        assert_eq!(d.window_integral(3.0, 1.0)[0], 0.0);
    }

    #[test]
    fn validate_catches_shape_errors() {
        assert!(dos(vec![0.0, 1.0], vec![vec![1.0, 2.0]]).validate().is_ok());
        let e = dos(vec![0.0], vec![vec![1.0]]).validate().unwrap_err();
        assert!(matches!(e.kind, ErrorKind::Truncated(_)));
        let e = dos(vec![0.0, 1.0], vec![vec![1.0, 2.0], vec![1.0]])
            .validate()
            .unwrap_err();
        assert!(matches!(&e.kind, ErrorKind::Syntax(m) if m.contains("spin blocks")));
        let e = dos(vec![1.0, 0.0], vec![vec![1.0, 2.0]])
            .validate()
            .unwrap_err();
        assert!(matches!(&e.kind, ErrorKind::Syntax(m) if m.contains("ascending")));
        let e = dos(vec![0.0, 1.0], vec![vec![1.0, f64::INFINITY]])
            .validate()
            .unwrap_err();
        assert!(matches!(e.kind, ErrorKind::InvalidNumber { .. }));
    }

    #[test]
    fn sniffing() {
        assert_eq!(
            sniff_dos_format("  {\"energies\": []}"),
            Some(DosFormat::Json)
        );
        assert_eq!(
            sniff_dos_format("<?xml version=\"1.0\"?>\n<modeling>"),
            Some(DosFormat::Vasprun)
        );
        assert_eq!(
            sniff_dos_format("mp_id,structure,phfreq,phdos\n"),
            Some(DosFormat::PhononCsv)
        );
        assert_eq!(
            sniff_dos_format("a\nb\nc\nd\ne\n 10.0 -5.0 301 1.5 1.0\n"),
            Some(DosFormat::Doscar)
        );
        assert_eq!(sniff_dos_format("hello"), None);
    }
}
