//! The DOS model input of the MultiMat reference (spec §1.3, `generate_dos_bandgap.py`), exactly:
//!
//! 1. take the spin-up curve (or, as an option, up + down);
//! 2. energies ← energies − E_F (electronic spectra; phonon spectra keep their own axis);
//! 3. repair NaNs in both rows ([`repair_nans`]);
//! 4. resample to 601 points by the length of the curve ([`Resampling`]);
//! 5. cast to f32 (round to nearest, as `torch.tensor(float64).float()`).
//!
//! No normalisation, no log, no common grid: every material keeps its own energy window.

use super::{Dos, SpectrumKind};
use crate::{Error, ErrorKind, Location};

/// Number of points of the model input (the DOS Transformer's sequence length).
pub const DOS_INPUT_LEN: usize = 601;

/// Which DOS curve feeds the model.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default)]
pub enum SpinChannel {
    /// Spin up only: what the reference does (for non-spin-polarised runs it is the total DOS;
    /// for spin-polarised ones the minority channel is dropped).
    #[default]
    Up,
    /// Spin up + spin down (the total DOS of a spin-polarised run; equals `Up` otherwise).
    Sum,
}

/// Options for [`model_input`]. The default is the reference pipeline.
#[derive(Debug, Clone, PartialEq, Default)]
pub struct DosInputOptions {
    pub spin: SpinChannel,
    /// Do not shift electronic energies by E_F (the reference always shifts). Ignored for phonons,
    /// which are never shifted.
    pub no_shift: bool,
    /// Fermi energy (eV) to shift by instead of the one in the file: the reference uses the
    /// `efermi` of the Materials Project summary document, which can differ from the DOS file's.
    pub efermi: Option<f64>,
}

/// How a curve was brought to 601 points.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Resampling {
    /// 601 points: unchanged.
    Unchanged,
    /// 2001 points: every 3rd point (667), then list positions i with (i+1) mod 10 = 0 dropped
    /// (66) → 601 on a non-uniform grid (steps 3Δ, every ninth 6Δ).
    Skip2001,
    /// 301 points: linear interpolation at the 601 fractional indices 0, 0.5, …, 300 (midpoints).
    Midpoints301,
    /// Any other length n: linear interpolation (`np.interp`) of the DOS onto 601 points uniformly
    /// spaced from the first to the last energy, which also become the energy row. The reference
    /// never meets these lengths (its own code would give 2n−1 points for n < 601 and a
    /// skip-pattern length for n > 601, not 601), so this is this implementation's choice.
    Uniform { from: usize },
}

/// The model input `[2, 601]` of one spectrum, f32.
#[derive(Debug, Clone, PartialEq)]
pub struct DosInput {
    /// What the axis is: for `Electronic`, E − E_F in eV (or absolute eV with `no_shift`); for
    /// `Phonon`, the frequency in the stated unit, unshifted.
    pub kind: SpectrumKind,
    /// Row 0: the 601 axis values.
    pub energies: Vec<f32>,
    /// Row 1: the 601 DOS values (states/eV for electronic spectra).
    pub densities: Vec<f32>,
    /// The branch of step 4 that was taken.
    pub resampling: Resampling,
}

impl DosInput {
    /// Row-major `[2, 601]` data (energies then densities), ready for [`crate::npy::write_npy_f32`].
    pub fn to_rows(&self) -> Vec<f32> {
        let mut v = Vec::with_capacity(self.energies.len() * 2);
        v.extend_from_slice(&self.energies);
        v.extend_from_slice(&self.densities);
        v
    }

    /// Number of axis points with `lo <= E <= hi` (both ends inclusive, as the reference's nMAE
    /// grid size count in spec §5.2, applied to row 0).
    pub fn points_in_window(&self, lo: f32, hi: f32) -> usize {
        self.energies
            .iter()
            .filter(|&&e| e >= lo && e <= hi)
            .count()
    }
}

/// Builds the model input of `dos` (see the module docs for the exact steps).
///
/// Errors: fewer than 2 points, energies/densities of different lengths, spin blocks of different
/// lengths, a row that is NaN everywhere, infinite values, and an electronic DOS without a Fermi
/// energy when shifting (neither in the file nor in `opts.efermi`).
pub fn model_input(dos: &Dos, opts: &DosInputOptions) -> Result<DosInput, Error> {
    let src = dos.source_name.as_str();
    dos.validate()?;
    let mut density: Vec<f64> = match opts.spin {
        SpinChannel::Up => dos.densities[0].clone(),
        SpinChannel::Sum => match dos.densities.get(1) {
            Some(down) => dos.densities[0]
                .iter()
                .zip(down)
                .map(|(u, d)| u + d)
                .collect(),
            None => dos.densities[0].clone(),
        },
    };
    let shift = match dos.kind {
        SpectrumKind::Electronic if !opts.no_shift => {
            Some(opts.efermi.or(dos.efermi).ok_or_else(|| {
                Error::new(
                    src,
                    Location::Key("efermi".into()),
                    ErrorKind::Syntax(
                        "no Fermi energy to shift the energies by (give one in the options)".into(),
                    ),
                )
            })?)
        }
        _ => None,
    };
    if let Some(ef) = shift {
        if !ef.is_finite() {
            return Err(Error::new(
                src,
                Location::Key("efermi".into()),
                ErrorKind::InvalidNumber {
                    what: "Fermi energy".into(),
                    found: ef.to_string(),
                },
            ));
        }
    }
    let mut energies: Vec<f64> = match shift {
        Some(ef) => dos.energies.iter().map(|e| e - ef).collect(),
        None => dos.energies.clone(),
    };
    if !repair_nans(&mut energies) {
        return Err(all_nan(src, "energies"));
    }
    if !repair_nans(&mut density) {
        return Err(all_nan(src, "densities"));
    }
    let n = energies.len();
    let (resampling, e, d) = match n {
        DOS_INPUT_LEN => (Resampling::Unchanged, energies, density),
        2001 => (
            Resampling::Skip2001,
            skip_2001(&energies),
            skip_2001(&density),
        ),
        301 => (
            Resampling::Midpoints301,
            midpoints(&energies),
            midpoints(&density),
        ),
        _ => {
            // NaN repair can leave the grid out of order (a NaN energy repaired from one side).
            if energies.windows(2).any(|w| w[1] < w[0]) {
                return Err(Error::new(
                    src,
                    Location::Key("energies".into()),
                    ErrorKind::Syntax("energies are not ascending after NaN repair".into()),
                ));
            }
            let grid = linspace(energies[0], energies[n - 1], DOS_INPUT_LEN);
            let d = grid
                .iter()
                .map(|&x| interp(x, &energies, &density))
                .collect();
            (Resampling::Uniform { from: n }, grid, d)
        }
    };
    Ok(DosInput {
        kind: dos.kind,
        energies: e.iter().map(|&v| v as f32).collect(),
        densities: d.iter().map(|&v| v as f32).collect(),
        resampling,
    })
}

fn all_nan(src: &str, row: &str) -> Error {
    Error::new(
        src,
        Location::Key(row.into()),
        ErrorKind::InvalidNumber {
            what: row.into(),
            found: "NaN at every point".into(),
        },
    )
}

/// Replaces NaNs in place the way the reference's `replace_nans` does, and returns false (leaving
/// `x` unchanged) when every value is NaN.
///
/// Left to right, each NaN at j looks at j−k and j+k for k = 1, 2, … until one of them is not
/// NaN; it becomes their mean if both are, else the one that is. Values repaired earlier count as
/// non-NaN for later ones, so a run of NaNs after `a` and before `b` fills as `a, a, …, a, (a+b)/2`
/// exactly as the reference does. Positions outside the array count as NaN on both sides;
/// here the reference differs (Python's `x[j-k]` wraps to the end of the array for j < k, and
/// `x[j+k]` past the end raises IndexError), which is a bug there, not a behaviour to copy.
pub fn repair_nans(x: &mut [f64]) -> bool {
    if !x.iter().any(|v| v.is_nan()) {
        return true;
    }
    if x.iter().all(|v| v.is_nan()) {
        return false;
    }
    let n = x.len() as isize;
    for j in 0..x.len() {
        if !x[j].is_nan() {
            continue;
        }
        let at = |x: &[f64], i: isize| {
            if i < 0 || i >= n {
                None
            } else {
                Some(x[i as usize]).filter(|v| !v.is_nan())
            }
        };
        let ji = j as isize;
        // A non-NaN value exists, so some k < n finds one side.
        for k in 1..=n {
            match (at(x, ji - k), at(x, ji + k)) {
                (None, None) => continue,
                (Some(a), None) => x[j] = a,
                (None, Some(b)) => x[j] = b,
                (Some(a), Some(b)) => x[j] = (a + b) / 2.0,
            }
            break;
        }
    }
    true
}

/// `x[::3]` then drop list positions i with (i+1) % 10 == 0.
fn skip_2001(x: &[f64]) -> Vec<f64> {
    x.iter()
        .step_by(3)
        .enumerate()
        .filter(|(i, _)| (i + 1) % 10 != 0)
        .map(|(_, &v)| v)
        .collect()
}

/// `np.interp(np.linspace(0, n-1, 2n-1), arange(n), x)`: the points and their midpoints.
fn midpoints(x: &[f64]) -> Vec<f64> {
    let n = x.len();
    let mut out = Vec::with_capacity(2 * n - 1);
    for j in 0..n - 1 {
        out.push(x[j]);
        // np.interp: slope * (t - xp[j]) + fp[j], slope = (fp[j+1] - fp[j]) / 1, t - xp[j] = 0.5.
        out.push((x[j + 1] - x[j]) * 0.5 + x[j]);
    }
    out.push(x[n - 1]);
    out
}

/// `np.linspace(a, b, n)` in f64, including numpy's exact endpoint.
fn linspace(a: f64, b: f64, n: usize) -> Vec<f64> {
    let step = (b - a) / (n - 1) as f64;
    let mut v: Vec<f64> = (0..n).map(|i| a + i as f64 * step).collect();
    v[n - 1] = b;
    v
}

/// `np.interp(t, xp, fp)` for ascending `xp`: clamps outside, exact at grid points.
fn interp(t: f64, xp: &[f64], fp: &[f64]) -> f64 {
    let n = xp.len();
    if t <= xp[0] {
        return fp[0];
    }
    if t >= xp[n - 1] {
        return fp[n - 1];
    }
    // Largest j with xp[j] <= t.
    let j = xp.partition_point(|&x| x <= t) - 1;
    if xp[j] == t || xp[j + 1] == xp[j] {
        return fp[j];
    }
    let slope = (fp[j + 1] - fp[j]) / (xp[j + 1] - xp[j]);
    slope * (t - xp[j]) + fp[j]
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn skip_pattern_lengths() {
        let x: Vec<f64> = (0..2001).map(|i| i as f64).collect();
        let s = skip_2001(&x);
        assert_eq!(s.len(), 601);
        assert_eq!(
            &s[..10],
            &[0.0, 3.0, 6.0, 9.0, 12.0, 15.0, 18.0, 21.0, 24.0, 30.0]
        );
        assert_eq!(*s.last().unwrap(), 1998.0);
        let m = midpoints(&x[..301]);
        assert_eq!(m.len(), 601);
        assert_eq!(&m[..4], &[0.0, 0.5, 1.0, 1.5]);
    }

    #[test]
    fn interp_matches_numpy_rules() {
        let xp = [0.0, 1.0, 3.0];
        let fp = [0.0, 2.0, 6.0];
        assert_eq!(interp(-1.0, &xp, &fp), 0.0);
        assert_eq!(interp(2.0, &xp, &fp), 4.0);
        assert_eq!(interp(3.0, &xp, &fp), 6.0);
        assert_eq!(interp(9.0, &xp, &fp), 6.0);
        assert_eq!(linspace(0.0, 1.0, 5), vec![0.0, 0.25, 0.5, 0.75, 1.0]);
    }
}
