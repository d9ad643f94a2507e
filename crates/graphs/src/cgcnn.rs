//! CGCNN crystal graph (spec §7.2, txie-93/cgcnn `CIFData`): for every atom its 12 nearest
//! periodic neighbours within 8 Å as fixed-width arrays, the 92-dim one-hot atom features, and
//! the Gaussian distance expansion the network applies to the neighbour distances.
//!
//! Tie order: the reference sorts pymatgen's `get_all_neighbors(8)` lists by distance with a
//! stable sort, so among exactly equal distances it keeps pymatgen's cell-list enumeration
//! order, which depends on pymatgen internals. Here ties are broken by (neighbour index, image),
//! which is deterministic. When a shell of equal distances straddles the 12th place the chosen
//! distances are identical to the reference, but the indices of the kept members of that shell
//! may differ; everything else (distances, counts, padding) matches exactly.

use multimat_crystal::error::{Error, ErrorKind, Location};
use multimat_crystal::neighbors::structure_neighbors;
use multimat_crystal::{cgcnn_features, Structure};

/// Width of the CGCNN atom feature vector.
pub const ATOM_FEATURES: usize = multimat_crystal::element::CGCNN_FEATURES;

/// pymatgen counts a neighbour at radius + 1e-8 Å as inside the sphere (`numerical_tol`).
const PYMATGEN_TOLERANCE: f64 = 1e-8;

/// Graph parameters (txie-93/cgcnn `main.py` defaults).
#[derive(Debug, Clone, Copy, PartialEq)]
pub struct CgcnnConfig {
    /// Neighbour search radius in Å (default 8).
    pub radius: f64,
    /// Neighbours kept per atom (default 12).
    pub max_neighbors: usize,
    /// Gaussian centre spacing and width in Å (default 0.2).
    pub step: f64,
}

impl Default for CgcnnConfig {
    fn default() -> Self {
        CgcnnConfig {
            radius: 8.0,
            max_neighbors: 12,
            step: 0.2,
        }
    }
}

impl CgcnnConfig {
    /// Distance written for padding slots: radius + 1 Å, as in the reference.
    pub fn padding_distance(&self) -> f64 {
        self.radius + 1.0
    }

    /// The Gaussian expansion matching this configuration (centres 0..=radius by `step`).
    pub fn gaussian(&self) -> GaussianExpansion {
        GaussianExpansion::new(0.0, self.radius, self.step)
    }

    fn validate(&self, source_name: &str) -> Result<(), Error> {
        let bad = |what: String| {
            Err(Error::new(
                source_name,
                Location::File,
                ErrorKind::Unsupported(what),
            ))
        };
        if !(self.radius.is_finite() && self.radius > 0.0) {
            return bad(format!(
                "CGCNN radius {} Å must be finite and > 0",
                self.radius
            ));
        }
        if self.max_neighbors == 0 {
            return bad("CGCNN max_neighbors must be at least 1".into());
        }
        if !(self.step.is_finite() && self.step > 0.0) {
            return bad(format!(
                "CGCNN Gaussian step {} Å must be finite and > 0",
                self.step
            ));
        }
        Ok(())
    }
}

/// CGCNN input graph of one crystal; arrays are row-major and flat.
#[derive(Debug, Clone, PartialEq)]
pub struct CgcnnGraph {
    /// Z of each site.
    pub atomic_numbers: Vec<u8>,
    /// [num_sites × 92] one-hot atom features.
    pub atom_features: Vec<f32>,
    /// [num_sites × max_neighbors] neighbour site indices; padding slots hold 0.
    pub neighbor_index: Vec<u32>,
    /// [num_sites × max_neighbors] neighbour distances in Å; padding slots hold radius + 1.
    pub neighbor_distance: Vec<f32>,
    pub num_sites: usize,
    pub max_neighbors: usize,
    /// Number of sites with fewer than `max_neighbors` neighbours within the radius (the
    /// reference warns about these and pads them).
    pub padded_sites: usize,
}

/// One crystal's CGCNN graph as borrowed slices: what the model layer batches into tensors,
/// whether the graph was just built ([`CgcnnGraph::view`]) or is read from a store's cache.
#[derive(Debug, Clone, Copy)]
pub struct CgcnnGraphView<'a> {
    /// Z of each of the N sites.
    pub atomic_numbers: &'a [u8],
    /// `[N·M]` row-major neighbour site of each slot (M = 12 by default; padding slots hold 0).
    pub neighbor_index: &'a [u32],
    /// `[N·M]` distance of each slot, Å (padding slots hold radius + 1 = 9 Å).
    pub neighbor_distance: &'a [f32],
}

impl CgcnnGraph {
    /// The graph as borrowed slices.
    pub fn view(&self) -> CgcnnGraphView<'_> {
        CgcnnGraphView {
            atomic_numbers: &self.atomic_numbers,
            neighbor_index: &self.neighbor_index,
            neighbor_distance: &self.neighbor_distance,
        }
    }

    /// The 92 features of site `i`.
    pub fn features(&self, i: usize) -> &[f32] {
        &self.atom_features[i * ATOM_FEATURES..(i + 1) * ATOM_FEATURES]
    }

    /// Neighbour indices of site `i`.
    pub fn neighbors(&self, i: usize) -> &[u32] {
        &self.neighbor_index[i * self.max_neighbors..(i + 1) * self.max_neighbors]
    }

    /// Neighbour distances (Å) of site `i`.
    pub fn distances(&self, i: usize) -> &[f32] {
        &self.neighbor_distance[i * self.max_neighbors..(i + 1) * self.max_neighbors]
    }
}

/// Builds the CGCNN graph. Refuses empty or disordered structures and elements without CGCNN
/// features (Z > 100); `source_name` names the structure in errors.
pub fn build(
    structure: &Structure,
    source_name: &str,
    config: &CgcnnConfig,
) -> Result<CgcnnGraph, Error> {
    config.validate(source_name)?;
    let z = structure.atomic_numbers(source_name)?;
    let n = z.len();
    if n == 0 {
        return Err(Error::new(source_name, Location::File, ErrorKind::Empty));
    }
    if u32::try_from(n).is_err() {
        return Err(Error::new(
            source_name,
            Location::File,
            ErrorKind::Unsupported(format!("{n} sites do not fit 32-bit neighbour indices")),
        ));
    }
    let mut atom_features = Vec::with_capacity(n * ATOM_FEATURES);
    for (i, &zi) in z.iter().enumerate() {
        let f = cgcnn_features(zi).ok_or_else(|| {
            Error::new(
                source_name,
                Location::Site(i),
                ErrorKind::Unsupported(format!(
                    "element Z = {zi} has no CGCNN atom features (Z 1-100 only)"
                )),
            )
        })?;
        atom_features.extend_from_slice(f);
    }

    let m = config.max_neighbors;
    let all = structure_neighbors(structure, config.radius + PYMATGEN_TOLERANCE, 0.0);
    let mut neighbor_index = Vec::with_capacity(n * m);
    let mut neighbor_distance = Vec::with_capacity(n * m);
    let mut padded_sites = 0;
    let pad = config.padding_distance() as f32;
    for list in &all {
        // Lists come sorted by distance; the first m are the m nearest.
        for nb in list.iter().take(m) {
            neighbor_index.push(nb.index as u32);
            neighbor_distance.push(nb.distance as f32);
        }
        if list.len() < m {
            padded_sites += 1;
            for _ in list.len()..m {
                neighbor_index.push(0);
                neighbor_distance.push(pad);
            }
        }
    }
    Ok(CgcnnGraph {
        atomic_numbers: z,
        atom_features,
        neighbor_index,
        neighbor_distance,
        num_sites: n,
        max_neighbors: m,
        padded_sites,
    })
}

/// Gaussian basis exp(−(d − μ_k)² / width²) on centres μ_k = dmin + k·step up to dmax
/// (numpy `arange(dmin, dmax + step, step)`; 41 centres for the CGCNN default 0..8 Å by 0.2).
#[derive(Debug, Clone, PartialEq)]
pub struct GaussianExpansion {
    /// Centres in Å.
    pub centers: Vec<f64>,
    /// Width in Å (CGCNN uses width = step).
    pub width: f64,
}

impl GaussianExpansion {
    /// Centres dmin, dmin + step, …, dmax (Å); width = step.
    pub fn new(dmin: f64, dmax: f64, step: f64) -> Self {
        let count = if step > 0.0 && dmax >= dmin {
            ((dmax - dmin) / step).round() as usize + 1
        } else {
            1
        };
        GaussianExpansion {
            centers: (0..count).map(|k| dmin + k as f64 * step).collect(),
            width: step,
        }
    }

    /// The CGCNN default: 0..=8 Å by 0.2 Å (41 centres).
    pub fn cgcnn() -> Self {
        CgcnnConfig::default().gaussian()
    }

    pub fn len(&self) -> usize {
        self.centers.len()
    }

    pub fn is_empty(&self) -> bool {
        self.centers.is_empty()
    }

    /// Writes the expansion of distance `d` (Å) into `out` (length [`Self::len`]).
    pub fn expand_into(&self, d: f64, out: &mut [f32]) {
        let inv = 1.0 / (self.width * self.width);
        for (o, &mu) in out.iter_mut().zip(&self.centers) {
            let x = d - mu;
            *o = (-x * x * inv).exp() as f32;
        }
    }

    /// Expansion of every neighbour distance of a graph: [num_sites × max_neighbors × len].
    pub fn expand_graph(&self, graph: &CgcnnGraph) -> Vec<f32> {
        let k = self.len();
        let mut out = vec![0.0f32; graph.neighbor_distance.len() * k];
        for (chunk, &d) in out.chunks_exact_mut(k).zip(&graph.neighbor_distance) {
            self.expand_into(d as f64, chunk);
        }
        out
    }
}
