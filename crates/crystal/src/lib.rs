//! Crystal structures for multimat: lattices (Å), sites and species, the periodic table with
//! CGCNN atom features, symmetry (via moyo), periodic neighbour search, and readers/writers
//! for the structure formats materials scientists have on disk (CIF, POSCAR, pymatgen JSON,
//! extended XYZ).
//!
//! This layer knows nothing about tensors or training (see DESIGN.md).

pub mod element;
pub mod error;
pub mod io;
pub mod lattice;
pub mod neighbors;
pub mod structure;
pub mod symmetry;

pub use element::{cgcnn_features, element, parse_species, Element};
pub use error::{Error, ErrorKind, Location};
pub use lattice::{Lattice, LatticeParameters};
pub use structure::{Occupant, Site, Structure};
pub use symmetry::{analyze, CrystalSystem, SpaceGroupInfo, DEFAULT_SYMPREC};
