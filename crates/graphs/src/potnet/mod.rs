//! PotNet graphs (spec §6) — being written.

pub mod lattice_sums;
pub mod local;
