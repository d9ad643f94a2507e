//! PotNet graphs (spec §6): the local k-NN graph ([`local`]), the infinite lattice sums
//! ([`lattice_sums`]) and [`build`], which makes both for one structure.

pub mod lattice_sums;
pub mod local;
pub mod special_functions;

use multimat_crystal::error::{Error, Location};
use multimat_crystal::Structure;

pub use local::{local_graph, LocalGraph, LocalGraphParams};

/// PotNet graph parameters (PotNet/jarvis values: cutoff 4 Å, 16 neighbours, bond_tol 0.15 Å).
#[derive(Debug, Clone, Copy, PartialEq)]
pub struct PotNetConfig {
    /// Initial local-graph cutoff in Å.
    pub cutoff: f64,
    /// k of the local k-nearest-neighbour graph (whole shells at the k-th neighbour are kept).
    pub max_neighbors: usize,
    /// Local neighbours at or closer than this (Å) are ignored.
    pub bond_tol: f64,
    /// Reproduce jarvis' 5-decimal lattice rounding in the local graph (see [`local`]).
    pub jarvis_rounding: bool,
}

impl Default for PotNetConfig {
    fn default() -> Self {
        let p = LocalGraphParams::default();
        PotNetConfig {
            cutoff: p.cutoff,
            max_neighbors: p.max_neighbors,
            bond_tol: p.bond_tol,
            jarvis_rounding: p.jarvis_rounding,
        }
    }
}

/// Everything PotNet reads for one crystal (spec §1.2), minus the atom features, which are
/// `cgcnn_features(atomic_numbers[i])`.
#[derive(Debug, Clone, PartialEq)]
pub struct PotNetGraph {
    /// Z per site.
    pub atomic_numbers: Vec<u8>,
    /// Local k-NN graph (`edge_index`, `edge_attr`).
    pub local: LocalGraph,
    /// Infinite-graph features (`inf_edge_attr`) for all N² ordered pairs, k = i·N + j, each
    /// [Coulomb (Å⁻¹), London (Å⁻⁶), Pauli (dimensionless)] of v = r_i − r_j.
    pub infinite: Vec<[f32; 3]>,
}

impl PotNetGraph {
    /// Number of sites N.
    pub fn num_sites(&self) -> usize {
        self.atomic_numbers.len()
    }

    /// The graph as borrowed slices.
    pub fn view(&self) -> PotNetGraphView<'_> {
        PotNetGraphView {
            atomic_numbers: &self.atomic_numbers,
            local_src: &self.local.src,
            local_dst: &self.local.dst,
            local_distance: &self.local.distance,
            infinite: self.infinite.as_flattened(),
        }
    }
}

/// One crystal's PotNet graph as borrowed slices: what the model layer batches into tensors,
/// whether the graph was just built ([`PotNetGraph::view`]) or is read from a store's cache.
#[derive(Debug, Clone, Copy)]
pub struct PotNetGraphView<'a> {
    /// Z of each of the N sites.
    pub atomic_numbers: &'a [u8],
    /// Source site of each local edge (`edge_index[0]`).
    pub local_src: &'a [u32],
    /// Target site of each local edge (`edge_index[1]`), where messages are summed.
    pub local_dst: &'a [u32],
    /// Length of each local edge, Å.
    pub local_distance: &'a [f32],
    /// `[N², 3]` row-major: [Coulomb (Å⁻¹), London (Å⁻⁶), Pauli] of the ordered pair k = i·N + j,
    /// which is the edge i → j (source k div N, target k mod N).
    pub infinite: &'a [f32],
}

/// Builds the PotNet graph from the raw (unwrapped) Cartesian coordinates of `structure`.
/// Refuses empty or disordered structures and coincident atoms; `source_name` names the
/// structure in errors.
pub fn build(
    structure: &Structure,
    source_name: &str,
    config: &PotNetConfig,
) -> Result<PotNetGraph, Error> {
    let atomic_numbers = structure.atomic_numbers(source_name)?;
    let cart = structure.cart_coords();
    let params = LocalGraphParams {
        cutoff: config.cutoff,
        max_neighbors: config.max_neighbors,
        bond_tol: config.bond_tol,
        jarvis_rounding: config.jarvis_rounding,
    };
    let frac: Vec<[f64; 3]> = structure.sites.iter().map(|s| s.frac).collect();
    let local = local_graph(&structure.lattice, &frac, &params)
        .map_err(|kind| Error::new(source_name, Location::File, kind))?;
    let infinite = lattice_sums::try_infinite_edges(&structure.lattice, &cart, source_name)?;
    Ok(PotNetGraph {
        atomic_numbers,
        local,
        infinite,
    })
}
