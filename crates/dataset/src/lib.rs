//! The multimat on-disk dataset store: one folder per dataset that scales to the paper's
//! 154,718 materials and 121,915 charge-density grids (~20 GB) without loading them, readable
//! from Python with pandas/pyarrow and numpy (see `STORE.md` next to this crate's Cargo.toml).
//!
//! ```text
//! STORE/
//!   manifest.json            commit point: counts, modalities (shape, dtype, rows, shards), labels
//!   materials.parquet        one row per material: id, source, formula, nsites, structure
//!                            (pymatgen JSON), crystal_system, spacegroup, one float64 column per
//!                            label, is_metal, elastic_tensor, description (text), and per
//!                            modality M: M_row, M_derived
//!   modalities/M/shard-00000.npy   [rows_in_shard, *shape] f32 or f16, C order
//!   splits/NAME.json         train/val/test ids
//!   import_report.json       files an importer skipped and why
//! ```
//!
//! Row `r` of modality `M` is in shard `r / shard_rows` at position `r % shard_rows`.
//! Committing writes shards, then the table, then the manifest, each through a temp file and
//! a rename; files are only ever appended to, so readers take the first `materials` table rows
//! and the first `rows` modality rows the manifest names and ignore anything past them.
//!
//! - [`StoreWriter`]: create / append / commit.
//! - [`Store`]: open; ids, labels, structures, masks; [`ModalityArray`] rows via mmap.
//! - [`info()`]: counts per modality, per combination of modalities, per label, per source.
//! - [`make_split`] / [`save_split`] / [`load_split`] / [`load_or_make_split`]: reproducible
//!   splits.
//! - [`build_graph_cache`], [`PotNetCache`], [`CgcnnCache`]: crystal graphs computed once, read
//!   back as the graphs crate's borrowed views.
//! - [`collate`] / [`batches`]: mini-batches with existence masks.

pub mod attach;
pub mod batch;
pub mod error;
pub mod graph_cache;
pub mod info;
pub mod manifest;
pub mod npy;
pub mod split;
pub mod store;
pub mod table;
pub mod writer;

pub use attach::{AttachSummary, ModalityStaging};
pub use batch::{batches, collate, Batch};
pub use error::{Error, ErrorKind, Result};
pub use graph_cache::{build_graph_cache, CgcnnCache, GraphCacheMeta, GraphKind, PotNetCache};
pub use info::{info, ModalityCounts, StoreInfo};
pub use manifest::{Manifest, ModalityEntry};
pub use npy::Dtype;
pub use split::{
    load_or_make_split, load_split, load_split_file, make_split, make_split_of, save_split,
    split_ids, Split, SplitIndices, SplitMix64,
};
pub use store::{Material, ModalityArray, Store};
pub use writer::{
    read_import_report, write_import_report, ImportProblem, MaterialRecord, StoreWriter,
};
