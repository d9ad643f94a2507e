//! Crystal → model graphs: the CGCNN neighbour graph (spec §7.2) and the PotNet local graph
//! plus infinite lattice sums (spec §6). Knows nothing about the ML framework: graphs are
//! plain arrays that the model layer turns into tensors.

pub mod cgcnn;
pub mod potnet;
