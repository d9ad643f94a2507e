//! Lattice: three lattice vectors as the rows of a 3×3 matrix, in Å.

use serde::{Deserialize, Serialize};

use crate::error::ErrorKind;

/// Smallest cell volume (Å³) accepted as a real crystal.
pub const MIN_VOLUME: f64 = 1e-3;

/// A periodic lattice. Row `i` of `matrix` is lattice vector `a_i` in Cartesian Å.
#[derive(Debug, Clone, Copy, PartialEq, Serialize, Deserialize)]
pub struct Lattice {
    matrix: [[f64; 3]; 3],
}

/// a, b, c in Å; α, β, γ in degrees; volume in Å³.
#[derive(Debug, Clone, Copy, PartialEq, Serialize, Deserialize)]
pub struct LatticeParameters {
    pub a: f64,
    pub b: f64,
    pub c: f64,
    pub alpha: f64,
    pub beta: f64,
    pub gamma: f64,
    pub volume: f64,
}

impl Lattice {
    /// Builds a lattice from row vectors (Å). Fails on non-finite entries or a volume below
    /// [`MIN_VOLUME`]; a left-handed basis is accepted (its volume is reported as |det|).
    pub fn new(matrix: [[f64; 3]; 3]) -> Result<Self, ErrorKind> {
        if matrix.iter().flatten().any(|x| !x.is_finite()) {
            return Err(ErrorKind::Syntax("lattice has non-finite entries".into()));
        }
        let lattice = Lattice { matrix };
        let volume = lattice.volume();
        if volume < MIN_VOLUME {
            return Err(ErrorKind::ZeroVolume(lattice.determinant()));
        }
        Ok(lattice)
    }

    /// Builds the lattice from cell parameters (Å, degrees) in pymatgen's orientation
    /// (`Lattice.from_parameters`): `c` along z, `a` in the xz plane. Using the same
    /// convention keeps Cartesian coordinates identical to pymatgen's for the same CIF.
    pub fn from_parameters(
        a: f64,
        b: f64,
        c: f64,
        alpha: f64,
        beta: f64,
        gamma: f64,
    ) -> Result<Self, ErrorKind> {
        for (name, v) in [("a", a), ("b", b), ("c", c)] {
            if !(v.is_finite() && v > 0.0) {
                return Err(ErrorKind::Syntax(format!(
                    "cell length {name} = {v} must be > 0"
                )));
            }
        }
        for (name, v) in [("alpha", alpha), ("beta", beta), ("gamma", gamma)] {
            if !(v.is_finite() && v > 0.0 && v < 180.0) {
                return Err(ErrorKind::Syntax(format!(
                    "cell angle {name} = {v} must lie in (0, 180) degrees"
                )));
            }
        }
        let (al, be, ga) = (alpha.to_radians(), beta.to_radians(), gamma.to_radians());
        let val = (al.cos() * be.cos() - ga.cos()) / (al.sin() * be.sin());
        // Angles that cannot close a cell (e.g. 120/120/120) give |val| > 1.
        if !(val.abs() < 1.0) {
            return Err(ErrorKind::ZeroVolume(0.0));
        }
        let gamma_star = val.acos();
        Lattice::new([
            [a * be.sin(), 0.0, a * be.cos()],
            [
                -b * al.sin() * gamma_star.cos(),
                b * al.sin() * gamma_star.sin(),
                b * al.cos(),
            ],
            [0.0, 0.0, c],
        ])
    }

    /// Cubic lattice with edge `a` Å.
    pub fn cubic(a: f64) -> Self {
        Lattice {
            matrix: [[a, 0.0, 0.0], [0.0, a, 0.0], [0.0, 0.0, a]],
        }
    }

    /// Rows are the lattice vectors (Å).
    pub fn matrix(&self) -> &[[f64; 3]; 3] {
        &self.matrix
    }

    /// Signed determinant of the row matrix (Å³).
    pub fn determinant(&self) -> f64 {
        det3(&self.matrix)
    }

    /// Cell volume |det| in Å³.
    pub fn volume(&self) -> f64 {
        self.determinant().abs()
    }

    /// Lengths of the three lattice vectors (Å).
    pub fn lengths(&self) -> [f64; 3] {
        self.matrix.map(norm)
    }

    /// α (between b and c), β (a, c), γ (a, b) in degrees.
    pub fn angles(&self) -> [f64; 3] {
        let [a, b, c] = self.matrix;
        [angle(b, c), angle(a, c), angle(a, b)]
    }

    pub fn parameters(&self) -> LatticeParameters {
        let [a, b, c] = self.lengths();
        let [alpha, beta, gamma] = self.angles();
        LatticeParameters {
            a,
            b,
            c,
            alpha,
            beta,
            gamma,
            volume: self.volume(),
        }
    }

    /// Fractional → Cartesian (Å): x = f · L.
    pub fn to_cartesian(&self, frac: [f64; 3]) -> [f64; 3] {
        let m = &self.matrix;
        std::array::from_fn(|k| frac[0] * m[0][k] + frac[1] * m[1][k] + frac[2] * m[2][k])
    }

    /// Cartesian (Å) → fractional: f = x · L⁻¹.
    pub fn to_fractional(&self, cart: [f64; 3]) -> [f64; 3] {
        let inv = self.inverse();
        std::array::from_fn(|k| cart[0] * inv[0][k] + cart[1] * inv[1][k] + cart[2] * inv[2][k])
    }

    /// Inverse of the row matrix.
    pub fn inverse(&self) -> [[f64; 3]; 3] {
        inverse3(&self.matrix)
    }

    /// Reciprocal lattice rows b_i with a_i · b_j = δ_ij (no 2π), in Å⁻¹.
    pub fn reciprocal_crystallographic(&self) -> [[f64; 3]; 3] {
        transpose(&self.inverse())
    }

    /// Reciprocal lattice rows b_i with a_i · b_j = 2π δ_ij, in Å⁻¹.
    pub fn reciprocal(&self) -> [[f64; 3]; 3] {
        self.reciprocal_crystallographic()
            .map(|r| r.map(|x| x * 2.0 * std::f64::consts::PI))
    }

    /// Distances between opposite faces of the cell (Å): d_i = V / |a_j × a_k|. A sphere of
    /// radius r fits in the cell without touching a periodic image iff 2r < min d_i.
    pub fn perpendicular_widths(&self) -> [f64; 3] {
        let recip = self.reciprocal_crystallographic();
        recip.map(|b| 1.0 / norm(b))
    }
}

pub(crate) fn det3(m: &[[f64; 3]; 3]) -> f64 {
    m[0][0] * (m[1][1] * m[2][2] - m[1][2] * m[2][1])
        - m[0][1] * (m[1][0] * m[2][2] - m[1][2] * m[2][0])
        + m[0][2] * (m[1][0] * m[2][1] - m[1][1] * m[2][0])
}

pub(crate) fn inverse3(m: &[[f64; 3]; 3]) -> [[f64; 3]; 3] {
    let d = det3(m);
    let c =
        |r0: usize, c0: usize, r1: usize, c1: usize| m[r0][c0] * m[r1][c1] - m[r0][c1] * m[r1][c0];
    [
        [c(1, 1, 2, 2) / d, -c(0, 1, 2, 2) / d, c(0, 1, 1, 2) / d],
        [-c(1, 0, 2, 2) / d, c(0, 0, 2, 2) / d, -c(0, 0, 1, 2) / d],
        [c(1, 0, 2, 1) / d, -c(0, 0, 2, 1) / d, c(0, 0, 1, 1) / d],
    ]
}

pub(crate) fn transpose(m: &[[f64; 3]; 3]) -> [[f64; 3]; 3] {
    std::array::from_fn(|i| std::array::from_fn(|j| m[j][i]))
}

/// Euclidean norm of a 3-vector.
pub fn norm(v: [f64; 3]) -> f64 {
    (v[0] * v[0] + v[1] * v[1] + v[2] * v[2]).sqrt()
}

fn dot(a: [f64; 3], b: [f64; 3]) -> f64 {
    a[0] * b[0] + a[1] * b[1] + a[2] * b[2]
}

fn angle(a: [f64; 3], b: [f64; 3]) -> f64 {
    (dot(a, b) / (norm(a) * norm(b)))
        .clamp(-1.0, 1.0)
        .acos()
        .to_degrees()
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn parameters_round_trip_triclinic() {
        let l = Lattice::from_parameters(3.1, 4.2, 5.3, 80.0, 95.0, 105.0).unwrap();
        let p = l.parameters();
        for (x, y) in [
            (p.a, 3.1),
            (p.b, 4.2),
            (p.c, 5.3),
            (p.alpha, 80.0),
            (p.beta, 95.0),
            (p.gamma, 105.0),
        ] {
            assert!((x - y).abs() < 1e-10, "{x} vs {y}");
        }
    }

    #[test]
    fn orientation_matches_pymatgen() {
        // pymatgen 2026.10.16: Lattice.from_parameters(3.1, 4.2, 5.3, 80, 95, 105).matrix
        let expected = [
            [3.088203564084411, 0.0, -0.2701828025177405],
            [-1.0273848682446083, 4.0065657673166575, 0.7293223462011078],
            [0.0, 0.0, 5.3],
        ];
        let l = Lattice::from_parameters(3.1, 4.2, 5.3, 80.0, 95.0, 105.0).unwrap();
        for i in 0..3 {
            for j in 0..3 {
                assert!(
                    (l.matrix()[i][j] - expected[i][j]).abs() < 1e-12,
                    "{:?}",
                    l.matrix()
                );
            }
        }
    }

    #[test]
    fn fractional_cartesian_inverse() {
        let l = Lattice::new([[3.1, 0.0, 0.0], [0.7, 2.9, 0.0], [0.4, 0.9, 4.2]]).unwrap();
        let f = [0.31, 0.52, 0.27];
        let back = l.to_fractional(l.to_cartesian(f));
        for k in 0..3 {
            assert!((back[k] - f[k]).abs() < 1e-12);
        }
        assert!((l.volume() - 3.1 * 2.9 * 4.2).abs() < 1e-10);
    }

    #[test]
    fn zero_volume_rejected() {
        let err = Lattice::new([[1.0, 0.0, 0.0], [2.0, 0.0, 0.0], [0.0, 0.0, 1.0]]).unwrap_err();
        assert!(matches!(err, ErrorKind::ZeroVolume(_)));
        assert!(Lattice::from_parameters(1.0, 1.0, 1.0, 120.0, 120.0, 120.0).is_err());
    }

    #[test]
    fn reciprocal_is_dual() {
        let l = Lattice::new([[3.1, 0.0, 0.0], [0.7, 2.9, 0.0], [0.4, 0.9, 4.2]]).unwrap();
        let b = l.reciprocal_crystallographic();
        for i in 0..3 {
            for j in 0..3 {
                let expect = if i == j { 1.0 } else { 0.0 };
                assert!((dot(l.matrix()[i], b[j]) - expect).abs() < 1e-12);
            }
        }
    }
}
