//! CGCNN graph (spec §7.2) — being written.
