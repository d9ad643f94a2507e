//! Crystal → model graphs: the CGCNN neighbour graph (spec §7.2) and the PotNet local graph
//! plus infinite lattice sums (spec §6). Knows nothing about the ML framework: graphs are
//! plain arrays, lent out as borrowed views (`PotNetGraphView`, `CgcnnGraphView`) that the
//! dataset layer's caches also hand out and the model layer turns into tensors.

pub mod cgcnn;
pub mod potnet;
