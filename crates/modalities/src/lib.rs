//! The non-structure modalities of a material and the exact model inputs the reference uses
//! (spec §1.3–1.5): densities of states, charge densities and text descriptions.
//!
//! Errors reuse the crystal layer's [`Error`]: file, place, problem.

pub mod charge_density;
pub mod dos;
pub mod npy;
pub mod text;

pub use multimat_crystal::{Error, ErrorKind, Location};
