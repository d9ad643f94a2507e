//! Periodic resampling of volumetric grids between grid sizes.
//!
//! Both methods are separable (a tensor product of 1-D operations), so they run axis by axis:
//! x, then y, then z. Output point `j` of an `m`-point axis sits at fractional coordinate `j/m`,
//! input point `i` of an `n`-point axis at `i/n` (VASP convention: point 0 at the origin).

use std::collections::HashMap;
use std::sync::Arc;

use rustfft::num_complex::Complex64;
use rustfft::{Fft, FftPlanner};

use crate::{Error, ErrorKind, Location};

/// How to resample a periodic grid.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default)]
pub enum Resample {
    /// Periodic band-limited (trigonometric) interpolation: FFT of the input, keep the
    /// frequencies |k| < min(n, m)/2, treat the Nyquist bin of an even size symmetrically, inverse
    /// FFT at the new size. Upsampling splits an even input's Nyquist bin X[n/2] into halves at
    /// ±n/2; downsampling to an even size sums the two bins that alias onto the output Nyquist
    /// bin (X[m/2] + X[−m/2]) and drops all higher frequencies. This is exactly
    /// `scipy.signal.resample` applied along each axis. The mean (k = 0) is preserved exactly, a
    /// same-size axis is copied unchanged, and any trigonometric polynomial the output grid can
    /// represent is reproduced to rounding.
    #[default]
    Fourier,
    /// Periodic trilinear interpolation: output point `j/m` lies at input coordinate
    /// `t = j·n/m`; it takes `(1 − w)·x[⌊t⌋] + w·x[⌊t⌋ + 1 mod n]` with `w = t − ⌊t⌋`, per axis.
    /// Exact for functions linear in each coordinate between grid points; does not preserve the
    /// mean in general.
    Trilinear,
}

/// Resamples `values` (VASP order, x fastest, `grid` points) onto `out` points per axis.
pub fn resample(
    values: &[f64],
    grid: [usize; 3],
    out: [usize; 3],
    method: Resample,
) -> Result<Vec<f64>, Error> {
    let n: usize = grid.iter().product();
    if grid.contains(&0) || out.contains(&0) {
        return Err(Error::new(
            "resample",
            Location::File,
            ErrorKind::Syntax(format!("empty grid {grid:?} -> {out:?}")),
        ));
    }
    if values.len() != n {
        return Err(Error::new(
            "resample",
            Location::File,
            ErrorKind::Syntax(format!(
                "grid {}x{}x{} needs {n} values, found {}",
                grid[0],
                grid[1],
                grid[2],
                values.len()
            )),
        ));
    }
    if let Some(i) = values.iter().position(|v| !v.is_finite()) {
        return Err(Error::new(
            "resample",
            Location::File,
            ErrorKind::InvalidNumber {
                what: format!("grid value {i}"),
                found: values[i].to_string(),
            },
        ));
    }
    let mut data = values.to_vec();
    let mut dims = grid;
    let mut planner = Planner::new();
    for axis in 0..3 {
        if dims[axis] == out[axis] {
            continue;
        }
        data = resample_axis(&data, dims, axis, out[axis], method, &mut planner);
        dims[axis] = out[axis];
    }
    Ok(data)
}

struct Planner {
    planner: FftPlanner<f64>,
    forward: HashMap<usize, Arc<dyn Fft<f64>>>,
    inverse: HashMap<usize, Arc<dyn Fft<f64>>>,
}

impl Planner {
    fn new() -> Self {
        Planner {
            planner: FftPlanner::new(),
            forward: HashMap::new(),
            inverse: HashMap::new(),
        }
    }
    fn forward(&mut self, n: usize) -> Arc<dyn Fft<f64>> {
        let p = &mut self.planner;
        self.forward
            .entry(n)
            .or_insert_with(|| p.plan_fft_forward(n))
            .clone()
    }
    fn inverse(&mut self, n: usize) -> Arc<dyn Fft<f64>> {
        let p = &mut self.planner;
        self.inverse
            .entry(n)
            .or_insert_with(|| p.plan_fft_inverse(n))
            .clone()
    }
}

/// Resamples along one axis; the other two keep their sizes.
fn resample_axis(
    data: &[f64],
    dims: [usize; 3],
    axis: usize,
    m: usize,
    method: Resample,
    planner: &mut Planner,
) -> Vec<f64> {
    let n = dims[axis];
    let mut out_dims = dims;
    out_dims[axis] = m;
    let mut out = vec![0.0; out_dims.iter().product()];
    // Element (i, j, k) lives at i*stride[0] + j*stride[1] + k*stride[2].
    let strides = |d: [usize; 3]| [1, d[0], d[0] * d[1]];
    let (s_in, s_out) = (strides(dims), strides(out_dims));
    let others: Vec<usize> = (0..3).filter(|&a| a != axis).collect();
    let (a, b) = (others[0], others[1]);

    match method {
        Resample::Fourier => {
            let fwd = planner.forward(n);
            let inv = planner.inverse(m);
            let mut spec = vec![Complex64::default(); n];
            let mut res = vec![Complex64::default(); m];
            let mut scratch = vec![
                Complex64::default();
                fwd.get_inplace_scratch_len()
                    .max(inv.get_inplace_scratch_len())
            ];
            let h = n.min(m);
            let half = (h - 1) / 2; // bins ±1..=half are copied as they are
            let scale = 1.0 / n as f64;
            for jb in 0..dims[b] {
                for ja in 0..dims[a] {
                    let base_in = ja * s_in[a] + jb * s_in[b];
                    let base_out = ja * s_out[a] + jb * s_out[b];
                    for (i, c) in spec.iter_mut().enumerate() {
                        *c = Complex64::new(data[base_in + i * s_in[axis]], 0.0);
                    }
                    fwd.process_with_scratch(&mut spec, &mut scratch);
                    res.fill(Complex64::default());
                    res[0] = spec[0];
                    for k in 1..=half {
                        res[k] = spec[k];
                        res[m - k] = spec[n - k];
                    }
                    if h.is_multiple_of(2) {
                        let k = h / 2;
                        if n < m {
                            // Split the input's Nyquist bin symmetrically over ±n/2.
                            res[k] = spec[k] * 0.5;
                            res[m - k] = spec[k] * 0.5;
                        } else {
                            // +m/2 and −m/2 alias onto the output's Nyquist bin.
                            res[k] = spec[k] + spec[n - k];
                        }
                    }
                    inv.process_with_scratch(&mut res, &mut scratch);
                    for (j, c) in res.iter().enumerate() {
                        out[base_out + j * s_out[axis]] = c.re * scale;
                    }
                }
            }
        }
        Resample::Trilinear => {
            // Integer arithmetic keeps the sample positions exact: t = j·n/m.
            let taps: Vec<(usize, usize, f64)> = (0..m)
                .map(|j| {
                    let i0 = j * n / m;
                    let w = (j * n % m) as f64 / m as f64;
                    (i0, (i0 + 1) % n, w)
                })
                .collect();
            for jb in 0..dims[b] {
                for ja in 0..dims[a] {
                    let base_in = ja * s_in[a] + jb * s_in[b];
                    let base_out = ja * s_out[a] + jb * s_out[b];
                    for (j, &(i0, i1, w)) in taps.iter().enumerate() {
                        let x0 = data[base_in + i0 * s_in[axis]];
                        let x1 = data[base_in + i1 * s_in[axis]];
                        out[base_out + j * s_out[axis]] = (1.0 - w) * x0 + w * x1;
                    }
                }
            }
        }
    }
    out
}
