//! Periodic neighbour search: every periodic image of every site within a radius of each site,
//! for any triclinic cell (however skewed), in f64.
//!
//! Two enumerations give identical results: a per-pair brute force over the image box that can
//! hold the sphere (small cells), and a cell list over fractional bins (cells with
//! [`CELL_LIST_THRESHOLD`] sites or more). Both only *propose* candidates; every candidate's
//! vector is computed by the same expression, `(n·L + r_j) − r_i` evaluated component by
//! component in that order (the order jarvis-tools and pymatgen use), so distances are
//! bit-identical whichever path ran and exact-equality tie tests downstream (PotNet's
//! "keep the whole shell of the 16th neighbour") see the same numbers.

use crate::lattice::Lattice;
use crate::structure::Structure;

/// One periodic neighbour of a site i.
#[derive(Debug, Clone, Copy, PartialEq)]
pub struct Neighbor {
    /// Index j of the neighbouring site (may equal i for a periodic image of i itself).
    pub index: usize,
    /// Lattice translation n (in units of the lattice vectors) of the image of j.
    pub image: [i32; 3],
    /// |vector| in Å.
    pub distance: f64,
    /// Displacement r_j + n·L − r_i in Cartesian Å (raw, unwrapped coordinates).
    pub vector: [f64; 3],
}

/// From this many sites on, [`neighbors_within`] bins atoms into a cell list instead of
/// testing every pair of sites over the full image box.
pub const CELL_LIST_THRESHOLD: usize = 64;

/// Slack (fractional units) added to image ranges so rounding in the fractional coordinates
/// can never drop a candidate; extra candidates are rejected by the exact distance test.
const FRAC_SLACK: f64 = 1e-8;

/// Most bins along one axis; more only costs memory for sparse tiny-radius searches.
const MAX_BINS_PER_AXIS: usize = 48;

/// Neighbours of every site of `structure` (see [`neighbors_within`]).
pub fn structure_neighbors(
    structure: &Structure,
    radius: f64,
    min_distance: f64,
) -> Vec<Vec<Neighbor>> {
    neighbors_within(
        &structure.lattice,
        &structure.cart_coords(),
        radius,
        min_distance,
    )
}

/// For each site i (Cartesian coordinates `cart`, Å, not necessarily inside the cell), every
/// pair (j, image n) with `min_distance < |r_j + n·L − r_i| ≤ radius` (Å). Periodic images of i
/// itself are included; the zero vector (j = i, n = 0) never is.
///
/// Each site's list is sorted by distance, then by j, then by image (lexicographic), so the
/// output is deterministic and independent of the enumeration used.
///
/// A `radius` that is negative or not finite yields empty lists. The cost grows with the number
/// of neighbours, i.e. with radius³ / cell volume, so a radius far larger than the cell is
/// correct but slow.
pub fn neighbors_within(
    lattice: &Lattice,
    cart: &[[f64; 3]],
    radius: f64,
    min_distance: f64,
) -> Vec<Vec<Neighbor>> {
    let n = cart.len();
    let mut out: Vec<Vec<Neighbor>> = vec![Vec::new(); n];
    if n == 0 || !radius.is_finite() || radius < 0.0 || min_distance.is_nan() {
        return out;
    }
    let search = Search::new(lattice, cart, radius, min_distance);
    if n >= CELL_LIST_THRESHOLD {
        search.cell_list(&mut out);
    } else {
        search.brute_force(&mut out);
    }
    for list in &mut out {
        list.sort_unstable_by(|a, b| {
            a.distance
                .total_cmp(&b.distance)
                .then(a.index.cmp(&b.index))
                .then(a.image.cmp(&b.image))
        });
    }
    out
}

struct Search<'a> {
    m: [[f64; 3]; 3],
    cart: &'a [[f64; 3]],
    frac: Vec<[f64; 3]>,
    radius: f64,
    min_distance: f64,
    /// radius / perpendicular width per axis: the largest fractional extent of the sphere.
    reach: [f64; 3],
}

impl<'a> Search<'a> {
    fn new(lattice: &Lattice, cart: &'a [[f64; 3]], radius: f64, min_distance: f64) -> Self {
        let widths = lattice.perpendicular_widths();
        Search {
            m: *lattice.matrix(),
            cart,
            frac: cart.iter().map(|&c| lattice.to_fractional(c)).collect(),
            radius,
            min_distance,
            reach: widths.map(|w| radius / w),
        }
    }

    /// Tests image `n` of site j as a neighbour of site i and records it.
    #[inline(always)]
    fn test(&self, i: usize, j: usize, n: [i32; 3], list: &mut Vec<Neighbor>) {
        let m = &self.m;
        let (ci, cj) = (self.cart[i], self.cart[j]);
        let nf = [n[0] as f64, n[1] as f64, n[2] as f64];
        let mut v = [0.0; 3];
        for k in 0..3 {
            let shift = nf[0] * m[0][k] + nf[1] * m[1][k] + nf[2] * m[2][k];
            v[k] = (shift + cj[k]) - ci[k];
        }
        let d = (v[0] * v[0] + v[1] * v[1] + v[2] * v[2]).sqrt();
        if d <= self.radius && d > self.min_distance && !(i == j && n == [0, 0, 0]) {
            list.push(Neighbor {
                index: j,
                image: n,
                distance: d,
                vector: v,
            });
        }
    }

    /// Every pair (i, j) over the box of images whose fractional offset can lie within the
    /// sphere: the fractional component k of a vector D is D·b_k, bounded by |D| / w_k.
    fn brute_force(&self, out: &mut [Vec<Neighbor>]) {
        let n = self.cart.len();
        for (i, list) in out.iter_mut().enumerate() {
            let fi = self.frac[i];
            for j in 0..n {
                let fj = self.frac[j];
                let mut lo = [0i32; 3];
                let mut hi = [0i32; 3];
                for k in 0..3 {
                    let df = fj[k] - fi[k];
                    lo[k] = (-df - self.reach[k] - FRAC_SLACK).ceil() as i32;
                    hi[k] = (-df + self.reach[k] + FRAC_SLACK).floor() as i32;
                }
                for n0 in lo[0]..=hi[0] {
                    for n1 in lo[1]..=hi[1] {
                        for n2 in lo[2]..=hi[2] {
                            self.test(i, j, [n0, n1, n2], list);
                        }
                    }
                }
            }
        }
    }

    /// Cell list in fractional space. Sites are wrapped into [0, 1)³ (remembering the integer
    /// shift s), binned into nb_k bins per axis, and each site visits the bins within c_k bins of
    /// its own, across periodic boundaries (a wrapped bin index carries a lattice translation t).
    /// With nb_k ≤ w_k / radius the sphere spans at most one bin each way (c_k = 1); cells
    /// thinner than the radius get one bin and c_k = ⌈radius / w_k⌉ image layers.
    fn cell_list(&self, out: &mut [Vec<Neighbor>]) {
        let n = self.cart.len();
        let mut nb = [1usize; 3];
        let mut c = [1i64; 3];
        for k in 0..3 {
            // (1 + 1e-6) keeps radius·nb/w strictly below 1, so a bin index rounded up by one
            // ulp at a bin boundary still leaves every neighbour within one bin.
            let fit = (1.0 / (self.reach[k] * (1.0 + 1e-6))).floor();
            nb[k] = if fit.is_finite() && fit >= 1.0 {
                (fit as usize).min(MAX_BINS_PER_AXIS)
            } else {
                1
            };
            c[k] = ((self.reach[k] * nb[k] as f64 * (1.0 + 1e-6)).ceil() as i64).max(1);
        }
        let nbins = nb[0] * nb[1] * nb[2];
        let mut shift = vec![[0i32; 3]; n];
        let mut bin_of = vec![0usize; n];
        let mut bin_idx = vec![[0i64; 3]; n];
        for i in 0..n {
            let mut b = [0i64; 3];
            for k in 0..3 {
                let f = self.frac[i][k];
                let mut s = f.floor();
                let mut w = f - s;
                if w >= 1.0 {
                    // f slightly below an integer wraps to exactly 1.0 after subtraction.
                    w = 0.0;
                    s += 1.0;
                }
                shift[i][k] = s as i32;
                b[k] = ((w * nb[k] as f64).floor() as i64).clamp(0, nb[k] as i64 - 1);
            }
            bin_idx[i] = b;
            bin_of[i] = (b[0] as usize * nb[1] + b[1] as usize) * nb[2] + b[2] as usize;
        }
        // Compressed bins: members of bin b are order[start[b]..start[b + 1]].
        let mut start = vec![0usize; nbins + 1];
        for &b in &bin_of {
            start[b + 1] += 1;
        }
        for b in 0..nbins {
            start[b + 1] += start[b];
        }
        let mut fill = start.clone();
        let mut order = vec![0usize; n];
        for (i, &b) in bin_of.iter().enumerate() {
            order[fill[b]] = i;
            fill[b] += 1;
        }

        for (i, list) in out.iter_mut().enumerate() {
            let b = bin_idx[i];
            let si = shift[i];
            for o0 in -c[0]..=c[0] {
                let (w0, t0) = wrap(b[0] + o0, nb[0]);
                for o1 in -c[1]..=c[1] {
                    let (w1, t1) = wrap(b[1] + o1, nb[1]);
                    for o2 in -c[2]..=c[2] {
                        let (w2, t2) = wrap(b[2] + o2, nb[2]);
                        let bin = (w0 * nb[1] + w1) * nb[2] + w2;
                        for &j in &order[start[bin]..start[bin + 1]] {
                            let sj = shift[j];
                            // wrapped_j + t − wrapped_i = f_j − s_j + t − f_i + s_i.
                            let image =
                                [t0 - sj[0] + si[0], t1 - sj[1] + si[1], t2 - sj[2] + si[2]];
                            self.test(i, j, image, list);
                        }
                    }
                }
            }
        }
    }
}

/// Bin index `b` (possibly outside 0..nb) → (bin inside the cell, lattice translation).
#[inline(always)]
fn wrap(b: i64, nb: usize) -> (usize, i32) {
    let nb = nb as i64;
    (b.rem_euclid(nb) as usize, b.div_euclid(nb) as i32)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn simple_cubic_shells() {
        let l = Lattice::cubic(2.0);
        let nb = neighbors_within(&l, &[[0.1, 0.2, 0.3]], 2.0 * 2f64.sqrt() + 1e-9, 0.0);
        assert_eq!(nb[0].len(), 6 + 12);
        assert!((nb[0][0].distance - 2.0).abs() < 1e-12);
        assert!(nb[0].iter().all(|x| x.index == 0 && x.image != [0, 0, 0]));
    }

    #[test]
    fn bad_radius_gives_empty_lists() {
        let l = Lattice::cubic(2.0);
        for r in [f64::NAN, f64::INFINITY, -1.0] {
            let nb = neighbors_within(&l, &[[0.0; 3]], r, 0.0);
            assert_eq!(nb.len(), 1);
            assert!(nb[0].is_empty());
        }
    }
}
