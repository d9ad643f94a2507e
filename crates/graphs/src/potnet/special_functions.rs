//! Error functions and the closed forms of the incomplete Bessel function used by the PotNet
//! lattice sums (spec §6.4).
//!
//! # erf, erfc, erfcx
//!
//! We port W. J. Cody's `CALERF` (SPECFUN, netlib, 1985/1990; "Rational Chebyshev approximations
//! for the error function", Math. Comp. 23 (1969) 631–637). It was chosen over `libm` because it
//! gives all three functions — including the scaled complement erfcx(x) = exp(x²)·erfc(x) that the
//! Pauli sum needs for large arguments — from one set of minimax rational approximations with
//! relative error near 1e-16 on every interval, and erfcx never overflows for x ≥ 0 (its third
//! interval is a rational function of 1/x², asymptotically 1/(√π·x)). No new dependency is needed.
//! Intervals: |x| ≤ 0.46875 (erf series-like rational in x²), 0.46875 < |x| ≤ 4 (erfcx rational in
//! x), |x| > 4 (erfcx rational in 1/x²). exp(−x²) is formed as exp(−t²)·exp(−(x−t)(x+t)) with t = x
//! truncated to 1/16 so the rounding error of x² is not amplified.
//!
//! # Incomplete Bessel function
//!
//! K_ν(x, y) = ∫₁^∞ t^(−ν−1) exp(−x t − y/t) dt. Only the orders listed in spec §6.4 occur and each has
//! a closed form in exp/erfc; every function below documents its formula.

// Cody's coefficients are kept exactly as published (more digits than an f64 holds).
#![allow(clippy::excessive_precision)]

/// 1/√π.
const FRAC_1_SQRT_PI: f64 = 5.641_895_835_477_562_869_5e-1;
/// √π.
pub const SQRT_PI: f64 = 1.772_453_850_905_516_027_3;

const THRESH: f64 = 0.46875;
const XSMALL: f64 = 1.11e-16;
/// erfc(x) underflows to 0 above this.
const XBIG: f64 = 26.543;
/// erfcx(x) = 1/(√π x) to full precision above this.
const XHUGE: f64 = 6.71e7;
/// erfcx(x) underflows above this.
const XMAX: f64 = 2.53e307;
/// erfcx(x) = 2·exp(x²) − erfcx(−x) overflows below this.
const XNEG: f64 = -26.628;

const A: [f64; 5] = [
    3.161_123_743_870_565_60E00,
    1.138_641_541_510_501_56E02,
    3.774_852_376_853_020_21E02,
    3.209_377_589_138_469_47E03,
    1.857_777_061_846_031_53E-1,
];
const B: [f64; 4] = [
    2.360_129_095_234_412_09E01,
    2.440_246_379_344_441_73E02,
    1.282_616_526_077_372_28E03,
    2.844_236_833_439_170_62E03,
];
const C: [f64; 9] = [
    5.641_884_969_886_700_89E-1,
    8.883_149_794_388_375_94E00,
    6.611_919_063_714_162_95E01,
    2.986_351_381_974_001_31E02,
    8.819_522_212_417_690_90E02,
    1.712_047_612_634_070_58E03,
    2.051_078_377_826_071_47E03,
    1.230_339_354_797_997_25E03,
    2.153_115_354_744_038_46E-8,
];
const D: [f64; 8] = [
    1.574_492_611_070_983_47E01,
    1.176_939_508_913_124_99E02,
    5.371_811_018_620_098_58E02,
    1.621_389_574_566_690_19E03,
    3.290_799_235_733_459_63E03,
    4.362_619_090_143_247_16E03,
    3.439_367_674_143_721_64E03,
    1.230_339_354_803_749_42E03,
];
const P: [f64; 6] = [
    3.053_266_349_612_323_44E-1,
    3.603_448_999_498_044_39E-1,
    1.257_817_261_112_292_46E-1,
    1.608_378_514_874_227_66E-2,
    6.587_491_615_298_378_03E-4,
    1.631_538_713_730_209_78E-2,
];
const Q: [f64; 5] = [
    2.568_520_192_289_822_42E00,
    1.872_952_849_923_460_47E00,
    5.279_051_029_514_284_12E-1,
    6.051_834_131_244_131_91E-2,
    2.335_204_976_268_691_85E-3,
];

/// erf(y)/y-style rational for |y| ≤ 0.46875: returns erf(y) for the signed argument.
#[inline]
fn erf_small(x: f64) -> f64 {
    let y = x.abs();
    let ysq = if y > XSMALL { y * y } else { 0.0 };
    let mut num = A[4] * ysq;
    let mut den = ysq;
    for i in 0..3 {
        num = (num + A[i]) * ysq;
        den = (den + B[i]) * ysq;
    }
    x * (num + A[3]) / (den + B[3])
}

/// erfcx(y) for 0.46875 < y (no exponential involved).
#[inline]
fn erfcx_large(y: f64) -> f64 {
    if y <= 4.0 {
        let mut num = C[8] * y;
        let mut den = y;
        for i in 0..7 {
            num = (num + C[i]) * y;
            den = (den + D[i]) * y;
        }
        (num + C[7]) / (den + D[7])
    } else {
        if y >= XMAX {
            return 0.0;
        }
        if y >= XHUGE {
            return FRAC_1_SQRT_PI / y;
        }
        let ysq = 1.0 / (y * y);
        let mut num = P[5] * ysq;
        let mut den = ysq;
        for i in 0..4 {
            num = (num + P[i]) * ysq;
            den = (den + Q[i]) * ysq;
        }
        let r = ysq * (num + P[4]) / (den + Q[4]);
        (FRAC_1_SQRT_PI - r) / y
    }
}

/// exp(−y²) for y ≥ 0 without amplifying the rounding error of y² (Cody's split at 1/16).
#[inline]
fn exp_neg_sq(y: f64) -> f64 {
    let t = (y * 16.0).trunc() / 16.0;
    let del = (y - t) * (y + t);
    (-t * t).exp() * (-del).exp()
}

/// exp(+x²), split the same way as [`exp_neg_sq`].
#[inline]
fn exp_sq(x: f64) -> f64 {
    let t = (x * 16.0).trunc() / 16.0;
    let del = (x - t) * (x + t);
    (t * t).exp() * del.exp()
}

/// Error function erf(x), relative error ≈ 1e-16 (Cody).
pub fn erf(x: f64) -> f64 {
    if x.is_nan() {
        return x;
    }
    let y = x.abs();
    if y <= THRESH {
        return erf_small(x);
    }
    let c = if y >= XBIG {
        0.0
    } else {
        exp_neg_sq(y) * erfcx_large(y)
    };
    let r = (0.5 - c) + 0.5;
    if x < 0.0 {
        -r
    } else {
        r
    }
}

/// Complementary error function erfc(x) = 1 − erf(x) for any real x, relative error ≈ 1e-16 (Cody);
/// underflows to 0 for x > 26.543.
pub fn erfc(x: f64) -> f64 {
    if x.is_nan() {
        return x;
    }
    let y = x.abs();
    if y <= THRESH {
        return 1.0 - erf_small(x);
    }
    let r = if y >= XBIG {
        0.0
    } else {
        exp_neg_sq(y) * erfcx_large(y)
    };
    if x < 0.0 {
        2.0 - r
    } else {
        r
    }
}

/// Scaled complementary error function erfcx(x) = exp(x²)·erfc(x) for any real x (Cody).
/// Never overflows for x ≥ 0 (≈ 1/(√π x) for large x); for x < −26.628 the true value exceeds
/// f64 range and +∞ is returned.
pub fn erfcx(x: f64) -> f64 {
    if x.is_nan() {
        return x;
    }
    let y = x.abs();
    let r = if y <= THRESH {
        let ysq = if y > XSMALL { y * y } else { 0.0 };
        return (1.0 - erf_small(x)) * ysq.exp();
    } else {
        erfcx_large(y)
    };
    if x < 0.0 {
        if x < XNEG {
            return f64::INFINITY;
        }
        let e = exp_sq(x);
        (e + e) - r
    } else {
        r
    }
}

/// erfc(y) for y ≥ 0 when exp(−y²) is already known (saves an exponential in the lattice sums).
#[inline]
pub(crate) fn erfc_with_exp(y: f64, exp_neg_y2: f64) -> f64 {
    if y <= THRESH {
        1.0 - erf_small(y)
    } else {
        exp_neg_y2 * erfcx_large(y)
    }
}

/// erfcx(y) for y ≥ 0 (skips the sign handling of [`erfcx`]).
#[inline]
pub(crate) fn erfcx_nonneg(y: f64) -> f64 {
    if y <= THRESH {
        let ysq = if y > XSMALL { y * y } else { 0.0 };
        (1.0 - erf_small(y)) * ysq.exp()
    } else {
        erfcx_large(y)
    }
}

/// K_{−1/2}(x, 0) = √π·erfc(√x)/√x (x > 0). Coulomb real-space term.
pub fn bessel_k_neg_half(x: f64) -> f64 {
    let s = x.sqrt();
    SQRT_PI * erfc(s) / s
}

/// K_{−1}(x, 0) = e^(−x)/x (x > 0). Coulomb reciprocal-space term.
pub fn bessel_k_neg_one(x: f64) -> f64 {
    (-x).exp() / x
}

/// K_{−2}(x, 0) = e^(−x)(1 + x)/x² (x > 0). Pauli reciprocal-space term.
pub fn bessel_k_neg_two(x: f64) -> f64 {
    (-x).exp() * (1.0 + x) / (x * x)
}

/// K_{−3}(x, 0) = e^(−x)(x² + 2x + 2)/x³ (x > 0). London real-space term.
pub fn bessel_k_neg_three(x: f64) -> f64 {
    (-x).exp() * (x * (x + 2.0) + 2.0) / (x * x * x)
}

/// K_{3/2}(x, 0) = (2/3)[e^(−x)(1 − 2x) + 2√π x^{3/2} erfc(√x)] (x ≥ 0), evaluated as
/// (2/3)e^(−x)[1 − 2x + 2√π x^{3/2} erfcx(√x)] so nothing underflows separately. London
/// reciprocal-space term. The bracket cancels to ≈ 3/(2x) for large x; the absolute error stays
/// ≈ x·e^(−x)·1e-16, far below anything that matters in the sums.
pub fn bessel_k_three_halves(x: f64) -> f64 {
    let s = x.sqrt();
    (2.0 / 3.0) * (-x).exp() * ((1.0 - 2.0 * x) + 2.0 * SQRT_PI * x * s * erfcx_nonneg(s))
}

/// K_{1/2}(x, y) for x ≥ 0, y > 0: (√π/(2√y))·[e^(−2√(xy)) erfc(√x − √y) − e^(2√(xy)) erfc(√x + √y)].
/// Pauli real-space term. Evaluated in the overflow-free form
/// (√π/(2√y))·[T₁ − e^(−x−y) erfcx(√x + √y)], where T₁ = e^(−x−y) erfcx(√x − √y) when √x ≥ √y and,
/// for √x < √y (erfcx of a negative argument grows like e^(d²)), T₁ = 2e^(−2√(xy)) − e^(−x−y) erfcx(√y − √x).
pub fn bessel_k_half(x: f64, y: f64) -> f64 {
    let sx = x.sqrt();
    let sy = y.sqrt();
    k_half_parts(sx, sy, (-(x + y)).exp())
}

/// [`bessel_k_half`] from √x, √y and e^(−x−y) (shared with the caller's loop).
#[inline]
pub(crate) fn k_half_parts(sx: f64, sy: f64, exp_neg_x_y: f64) -> f64 {
    let d = sx - sy;
    let t1 = if d >= 0.0 {
        exp_neg_x_y * erfcx_nonneg(d)
    } else {
        2.0 * (-2.0 * sx * sy).exp() - exp_neg_x_y * erfcx_nonneg(-d)
    };
    let t2 = exp_neg_x_y * erfcx_nonneg(sx + sy);
    (0.5 * SQRT_PI / sy) * (t1 - t2)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn erf_erfc_complement() {
        for &x in &[-3.0, -0.3, 0.0, 0.2, 0.46875, 0.5, 1.7, 4.0, 4.5] {
            assert!((erf(x) + erfc(x) - 1.0).abs() < 2e-16, "x = {x}");
        }
    }

    #[test]
    fn erfcx_continuity_at_breaks() {
        for &b in &[0.46875f64, 4.0] {
            let lo = erfcx(b * (1.0 - 1e-15));
            let hi = erfcx(b * (1.0 + 1e-15));
            assert!(((lo - hi) / lo).abs() < 1e-13, "break {b}: {lo} vs {hi}");
        }
    }
}
