//! PotNet local graph (spec §6.1) — being written.
