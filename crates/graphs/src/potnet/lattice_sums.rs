//! PotNet infinite lattice sums (spec §6.3–6.5) — being written.
