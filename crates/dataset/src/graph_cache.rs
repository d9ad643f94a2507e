//! Cached crystal graphs of a store, computed once (in parallel) and kept beside the store as
//! plain `.npy` arrays, so training never rebuilds a PotNet lattice sum and Python users can
//! read the graphs with `numpy.load`.
//!
//! Layout (`STORE/graphs/<kind>/`), every array C-order little-endian, material `i` of the
//! store owning the slice `offsets[i]..offsets[i + 1]` of its arrays:
//!
//! | file | dtype, shape | content |
//! |---|---|---|
//! | `meta.json` | | kind, config, counts, store timestamp, materials that failed and why |
//! | `node_offsets.npy` | `<i8` [n + 1] | atom offsets |
//! | `atomic_numbers.npy` | `|u1` [atoms] | Z of every atom (CGCNN features follow from Z) |
//! | PotNet: `local_offsets.npy` | `<i8` [n + 1] | local-edge offsets |
//! | PotNet: `local_src.npy`, `local_dst.npy` | `<u4` [edges] | local edges, node indices within the material |
//! | PotNet: `local_distance.npy` | `<f4` [edges] | edge length (Å) |
//! | PotNet: `infinite.npy` | `<f4` [Σ N², 3] | Coulomb, London, Pauli sums for pair k = i·N + j (spec §6) |
//! | CGCNN: `neighbor_index.npy` | `<u4` [atoms, 12] | neighbour indices within the material |
//! | CGCNN: `neighbor_distance.npy` | `<f4` [atoms, 12] | distances (Å); 9.0 marks padding |
//!
//! A material whose graph cannot be built (e.g. a disordered structure) gets empty slices and
//! is listed in `meta.json` under `failed`. The cache is written to a temporary folder and
//! renamed into place, so a killed build never leaves a half-written cache.

use std::fs::File;
use std::io::{BufWriter, Write};
use std::path::{Path, PathBuf};

use multimat_graphs::{cgcnn, potnet};
use rayon::prelude::*;
use serde::{Deserialize, Serialize};

use crate::error::{Error, ErrorKind, Result};
use crate::store::Store;

/// Which graph to cache.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "lowercase")]
pub enum GraphKind {
    Potnet,
    Cgcnn,
}

impl GraphKind {
    pub fn name(self) -> &'static str {
        match self {
            GraphKind::Potnet => "potnet",
            GraphKind::Cgcnn => "cgcnn",
        }
    }
}

/// `meta.json` of a graph cache.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct GraphCacheMeta {
    pub kind: GraphKind,
    pub materials: usize,
    pub atoms: usize,
    /// Local edges (PotNet) or neighbour slots (CGCNN).
    pub edges: usize,
    /// The store's `updated` timestamp when the cache was built; a store committed later makes
    /// the cache stale.
    pub store_updated: String,
    pub seconds: f64,
    /// `(id, reason)` of materials without a graph.
    pub failed: Vec<(String, String)>,
}

/// Materials per parallel chunk: bounds memory while keeping both cores busy.
const CHUNK: usize = 256;

/// An array being streamed to disk: raw bytes go to a temporary file, and the `.npy` is
/// assembled (header + bytes) once the final length is known.
struct ArrayFile {
    raw: BufWriter<File>,
    raw_path: PathBuf,
    path: PathBuf,
    descr: &'static str,
    /// Trailing dimensions after the first.
    inner: Vec<usize>,
    count: usize,
}

impl ArrayFile {
    fn new(dir: &Path, name: &str, descr: &'static str, inner: &[usize]) -> Result<Self> {
        let path = dir.join(name);
        let raw_path = dir.join(format!("{name}.raw"));
        let raw = BufWriter::new(File::create(&raw_path).map_err(|e| Error::io(&raw_path, e))?);
        Ok(ArrayFile {
            raw,
            raw_path,
            path,
            descr,
            inner: inner.to_vec(),
            count: 0,
        })
    }

    fn write(&mut self, bytes: &[u8], elements: usize) -> Result<()> {
        self.count += elements;
        self.raw
            .write_all(bytes)
            .map_err(|e| Error::io(&self.raw_path, e))
    }

    fn finish(self) -> Result<()> {
        let ArrayFile {
            raw,
            raw_path,
            path,
            descr,
            inner,
            count,
        } = self;
        raw.into_inner()
            .map_err(|e| Error::io(&raw_path, e.into_error()))?
            .sync_all()
            .map_err(|e| Error::io(&raw_path, e))?;
        let per_row: usize = inner.iter().product::<usize>().max(1);
        let mut shape = vec![count / per_row];
        shape.extend(inner);
        let header =
            multimat_modalities::npy::header(descr, &shape).map_err(|e| Error::io(&path, e))?;
        let mut out = BufWriter::new(File::create(&path).map_err(|e| Error::io(&path, e))?);
        out.write_all(&header).map_err(|e| Error::io(&path, e))?;
        let mut src = File::open(&raw_path).map_err(|e| Error::io(&raw_path, e))?;
        std::io::copy(&mut src, &mut out).map_err(|e| Error::io(&path, e))?;
        out.flush().map_err(|e| Error::io(&path, e))?;
        std::fs::remove_file(&raw_path).map_err(|e| Error::io(&raw_path, e))
    }
}

fn bytes_of<T: Copy, const N: usize>(values: &[T], to_le: impl Fn(T) -> [u8; N]) -> Vec<u8> {
    values.iter().flat_map(|&v| to_le(v)).collect()
}

/// One material's graph in cache form.
enum Built {
    Potnet(potnet::PotNetGraph),
    Cgcnn(cgcnn::CgcnnGraph),
    Failed(String),
}

/// Folder of a store's cache of `kind`.
pub fn cache_dir(store: &Store, kind: GraphKind) -> PathBuf {
    store.dir().join("graphs").join(kind.name())
}

/// Builds (or rebuilds) the graph cache of `kind` for every material of `store`, calling
/// `progress(done)` after each chunk. Returns the cache's metadata.
pub fn build_graph_cache(
    store: &Store,
    kind: GraphKind,
    progress: &(dyn Fn(usize) + Sync),
) -> Result<GraphCacheMeta> {
    let start = std::time::Instant::now();
    let final_dir = cache_dir(store, kind);
    let parent = final_dir
        .parent()
        .expect("cache dir has a parent")
        .to_path_buf();
    std::fs::create_dir_all(&parent).map_err(|e| Error::io(&parent, e))?;
    let tmp = parent.join(format!(".{}.tmp", kind.name()));
    if tmp.exists() {
        std::fs::remove_dir_all(&tmp).map_err(|e| Error::io(&tmp, e))?;
    }
    std::fs::create_dir_all(&tmp).map_err(|e| Error::io(&tmp, e))?;

    let k = cgcnn::CgcnnConfig::default().max_neighbors;
    let mut node_offsets = ArrayFile::new(&tmp, "node_offsets.npy", "<i8", &[])?;
    let mut atomic_numbers = ArrayFile::new(&tmp, "atomic_numbers.npy", "|u1", &[])?;
    let mut arrays: Vec<ArrayFile> = match kind {
        GraphKind::Potnet => vec![
            ArrayFile::new(&tmp, "local_offsets.npy", "<i8", &[])?,
            ArrayFile::new(&tmp, "local_src.npy", "<u4", &[])?,
            ArrayFile::new(&tmp, "local_dst.npy", "<u4", &[])?,
            ArrayFile::new(&tmp, "local_distance.npy", "<f4", &[])?,
            ArrayFile::new(&tmp, "infinite.npy", "<f4", &[3])?,
        ],
        GraphKind::Cgcnn => vec![
            ArrayFile::new(&tmp, "neighbor_index.npy", "<u4", &[k])?,
            ArrayFile::new(&tmp, "neighbor_distance.npy", "<f4", &[k])?,
        ],
    };
    let (mut atoms, mut edges) = (0usize, 0usize);
    node_offsets.write(&0i64.to_le_bytes(), 1)?;
    if kind == GraphKind::Potnet {
        arrays[0].write(&0i64.to_le_bytes(), 1)?;
    }
    let mut failed = Vec::new();
    let potnet_config = potnet::PotNetConfig::default();
    let cgcnn_config = cgcnn::CgcnnConfig::default();
    let ids = store.ids();
    // Structures are streamed in table order (one decode pass over the column) and graphs
    // built CHUNK at a time on all cores.
    let mut pending: Vec<(usize, String)> = Vec::with_capacity(CHUNK);
    let mut flush = |pending: &mut Vec<(usize, String)>| -> Result<()> {
        let built: Vec<(usize, Built)> = pending
            .par_iter()
            .map(|(i, json)| {
                let id = &ids[*i];
                let structure = match serde_json::from_str::<serde_json::Value>(json)
                    .map_err(|e| format!("{id}: structure is not JSON: {e}"))
                    .and_then(|v| {
                        multimat_crystal::io::json::structure_from_value(&v, id, "structure")
                            .map_err(|e| e.to_string())
                    }) {
                    Ok(s) => s,
                    Err(e) => return (*i, Built::Failed(e)),
                };
                let b = match kind {
                    GraphKind::Potnet => match potnet::build(&structure, id, &potnet_config) {
                        Ok(g) => Built::Potnet(g),
                        Err(e) => Built::Failed(e.to_string()),
                    },
                    GraphKind::Cgcnn => match cgcnn::build(&structure, id, &cgcnn_config) {
                        Ok(g) => Built::Cgcnn(g),
                        Err(e) => Built::Failed(e.to_string()),
                    },
                };
                (*i, b)
            })
            .collect();
        for (i, b) in built {
            match b {
                Built::Potnet(g) => {
                    atoms += g.atomic_numbers.len();
                    edges += g.local.src.len();
                    atomic_numbers.write(&g.atomic_numbers, g.atomic_numbers.len())?;
                    let inf: Vec<f32> = g.infinite.iter().flatten().copied().collect();
                    arrays[1]
                        .write(&bytes_of(&g.local.src, u32::to_le_bytes), g.local.src.len())?;
                    arrays[2]
                        .write(&bytes_of(&g.local.dst, u32::to_le_bytes), g.local.dst.len())?;
                    arrays[3].write(
                        &bytes_of(&g.local.distance, f32::to_le_bytes),
                        g.local.distance.len(),
                    )?;
                    arrays[4].write(&bytes_of(&inf, f32::to_le_bytes), inf.len())?;
                }
                Built::Cgcnn(g) => {
                    let z = &g.atomic_numbers;
                    atoms += z.len();
                    edges += g.neighbor_index.len();
                    atomic_numbers.write(z, z.len())?;
                    arrays[0].write(
                        &bytes_of(&g.neighbor_index, u32::to_le_bytes),
                        g.neighbor_index.len(),
                    )?;
                    arrays[1].write(
                        &bytes_of(&g.neighbor_distance, f32::to_le_bytes),
                        g.neighbor_distance.len(),
                    )?;
                }
                Built::Failed(reason) => failed.push((ids[i].clone(), reason)),
            }
            node_offsets.write(&(atoms as i64).to_le_bytes(), 1)?;
            if kind == GraphKind::Potnet {
                arrays[0].write(&(edges as i64).to_le_bytes(), 1)?;
            }
        }
        if let Some((last, _)) = pending.last() {
            progress(last + 1);
        }
        pending.clear();
        Ok(())
    };
    store.for_each_structure_json(|i, json| {
        pending.push((i, json.to_string()));
        if pending.len() == CHUNK {
            flush(&mut pending)?;
        }
        Ok(())
    })?;
    flush(&mut pending)?;

    node_offsets.finish()?;
    atomic_numbers.finish()?;
    for a in arrays {
        a.finish()?;
    }
    let meta = GraphCacheMeta {
        kind,
        materials: store.len(),
        atoms,
        edges,
        store_updated: store.manifest().updated.clone(),
        seconds: start.elapsed().as_secs_f64(),
        failed,
    };
    let meta_path = tmp.join("meta.json");
    let text = serde_json::to_string_pretty(&meta)
        .map_err(|e| Error::new(&meta_path, ErrorKind::Io(e.to_string())))?;
    std::fs::write(&meta_path, text).map_err(|e| Error::io(&meta_path, e))?;
    if final_dir.exists() {
        std::fs::remove_dir_all(&final_dir).map_err(|e| Error::io(&final_dir, e))?;
    }
    std::fs::rename(&tmp, &final_dir).map_err(|e| Error::io(&final_dir, e))?;
    Ok(meta)
}

/// Reads the `meta.json` of a cache that is in step with the store (built after the store's
/// last commit, over all its materials); returns it with the cache folder.
fn read_fresh_meta(store: &Store, kind: GraphKind) -> Result<(GraphCacheMeta, PathBuf)> {
    let meta = read_meta(store, kind)?;
    let dir = cache_dir(store, kind);
    if meta.store_updated != store.manifest().updated || meta.materials != store.len() {
        return Err(Error::new(
            dir.join("meta.json"),
            ErrorKind::CorruptManifest(format!("graph cache is stale: the store changed after it was built (run `multimat data graphs --kind {}` again)", kind.name())),
        ));
    }
    Ok((meta, dir))
}

/// A CGCNN graph cache loaded into memory (`multimat data graphs --kind cgcnn`; 12 neighbour
/// slots of 8 bytes per atom). Its graphs are those `multimat_graphs::cgcnn::build` makes with
/// the default parameters, so reading it and building on the fly give the same inputs.
#[derive(Debug, Clone)]
pub struct CgcnnCache {
    pub meta: GraphCacheMeta,
    node_offsets: Vec<i64>,
    atomic_numbers: Vec<u8>,
    neighbor_index: Vec<u32>,
    neighbor_distance: Vec<f32>,
    /// Neighbour slots per atom (M).
    slots: usize,
}

impl CgcnnCache {
    /// Loads the CGCNN cache of `store`; fails if it is missing or older than the store.
    pub fn open(store: &Store) -> Result<Self> {
        let (meta, dir) = read_fresh_meta(store, GraphKind::Cgcnn)?;
        let (shape, _) = read_npy_raw(&dir.join("neighbor_index.npy"), "<u4")?;
        let slots = shape.get(1).copied().unwrap_or(0);
        let cache = CgcnnCache {
            node_offsets: read_i64(&dir.join("node_offsets.npy"))?,
            atomic_numbers: read_npy_raw(&dir.join("atomic_numbers.npy"), "|u1")?.1,
            neighbor_index: read_u32(&dir.join("neighbor_index.npy"))?,
            neighbor_distance: read_f32(&dir.join("neighbor_distance.npy"))?,
            slots,
            meta,
        };
        let n = cache.meta.materials;
        let atoms = cache.atomic_numbers.len();
        let consistent = slots > 0
            && cache.node_offsets.len() == n + 1
            && cache.node_offsets.first() == Some(&0)
            && cache.node_offsets.windows(2).all(|w| w[0] <= w[1])
            && cache.node_offsets[n] as usize == atoms
            && cache.neighbor_index.len() == atoms * slots
            && cache.neighbor_distance.len() == atoms * slots;
        if !consistent {
            return Err(Error::new(
                dir,
                ErrorKind::BadShard("graph cache arrays disagree in length".into()),
            ));
        }
        Ok(cache)
    }

    /// The graph of material `i` (empty slices if it failed to build).
    pub fn graph(&self, i: usize) -> cgcnn::CgcnnGraphView<'_> {
        let (a0, a1) = (
            self.node_offsets[i] as usize,
            self.node_offsets[i + 1] as usize,
        );
        let m = self.slots;
        cgcnn::CgcnnGraphView {
            atomic_numbers: &self.atomic_numbers[a0..a1],
            neighbor_index: &self.neighbor_index[a0 * m..a1 * m],
            neighbor_distance: &self.neighbor_distance[a0 * m..a1 * m],
        }
    }
}

/// Reads a cache's `meta.json`.
pub fn read_meta(store: &Store, kind: GraphKind) -> Result<GraphCacheMeta> {
    let path = cache_dir(store, kind).join("meta.json");
    let text = std::fs::read_to_string(&path).map_err(|e| Error::io(&path, e))?;
    serde_json::from_str(&text)
        .map_err(|e| Error::new(&path, ErrorKind::CorruptManifest(e.to_string())))
}

/// Reads a whole `.npy` array of plain little-endian elements of `size` bytes, checking the
/// dtype string; returns the shape and the raw data bytes.
fn read_npy_raw(path: &Path, descr: &str) -> Result<(Vec<usize>, Vec<u8>)> {
    let bytes = std::fs::read(path).map_err(|e| Error::io(path, e))?;
    let bad = |m: &str| Error::new(path, ErrorKind::BadShard(m.to_string()));
    if bytes.len() < 10 || &bytes[..6] != b"\x93NUMPY" {
        return Err(bad("not a .npy file"));
    }
    let hlen = u16::from_le_bytes([bytes[8], bytes[9]]) as usize;
    let header = std::str::from_utf8(
        bytes
            .get(10..10 + hlen)
            .ok_or_else(|| bad("header cut short"))?,
    )
    .map_err(|_| bad("header is not text"))?;
    if !header.contains(&format!("'descr': '{descr}'")) {
        return Err(bad(&format!("expected dtype {descr}, header {header:?}")));
    }
    let shape_text = header
        .split("'shape': (")
        .nth(1)
        .and_then(|s| s.split(')').next())
        .ok_or_else(|| bad("no shape in header"))?;
    let shape: Vec<usize> = shape_text
        .split(',')
        .map(str::trim)
        .filter(|s| !s.is_empty())
        .map(|s| s.parse().map_err(|_| bad("bad shape")))
        .collect::<Result<_>>()?;
    Ok((shape, bytes[10 + hlen..].to_vec()))
}

fn read_i64(path: &Path) -> Result<Vec<i64>> {
    let (_, b) = read_npy_raw(path, "<i8")?;
    Ok(b.chunks_exact(8)
        .map(|c| i64::from_le_bytes(c.try_into().expect("8 bytes")))
        .collect())
}

fn read_u32(path: &Path) -> Result<Vec<u32>> {
    let (_, b) = read_npy_raw(path, "<u4")?;
    Ok(b.chunks_exact(4)
        .map(|c| u32::from_le_bytes(c.try_into().expect("4 bytes")))
        .collect())
}

fn read_f32(path: &Path) -> Result<Vec<f32>> {
    let (_, b) = read_npy_raw(path, "<f4")?;
    Ok(b.chunks_exact(4)
        .map(|c| f32::from_le_bytes(c.try_into().expect("4 bytes")))
        .collect())
}

/// A PotNet graph cache loaded into memory (≈ 12 bytes per ordered atom pair; the paper-scale
/// MP set needs a few GB).
#[derive(Debug, Clone)]
pub struct PotNetCache {
    pub meta: GraphCacheMeta,
    node_offsets: Vec<i64>,
    atomic_numbers: Vec<u8>,
    local_offsets: Vec<i64>,
    local_src: Vec<u32>,
    local_dst: Vec<u32>,
    local_distance: Vec<f32>,
    infinite: Vec<f32>,
    /// Offsets into `infinite` in pairs (Σ N² of the earlier materials).
    pair_offsets: Vec<usize>,
}

impl PotNetCache {
    /// Loads the PotNet cache of `store`; fails if it is missing or older than the store.
    pub fn open(store: &Store) -> Result<Self> {
        let (meta, dir) = read_fresh_meta(store, GraphKind::Potnet)?;
        let node_offsets = read_i64(&dir.join("node_offsets.npy"))?;
        let mut pair_offsets = vec![0usize];
        for w in node_offsets.windows(2) {
            let n = (w[1] - w[0]).max(0) as usize;
            pair_offsets.push(pair_offsets.last().expect("non-empty") + n * n);
        }
        let cache = PotNetCache {
            node_offsets,
            pair_offsets,
            atomic_numbers: read_npy_raw(&dir.join("atomic_numbers.npy"), "|u1")?.1,
            local_offsets: read_i64(&dir.join("local_offsets.npy"))?,
            local_src: read_u32(&dir.join("local_src.npy"))?,
            local_dst: read_u32(&dir.join("local_dst.npy"))?,
            local_distance: read_f32(&dir.join("local_distance.npy"))?,
            infinite: read_f32(&dir.join("infinite.npy"))?,
            meta,
        };
        let n = cache.meta.materials;
        let consistent = cache.node_offsets.len() == n + 1
            && cache.local_offsets.len() == n + 1
            && cache.node_offsets[n] as usize == cache.atomic_numbers.len()
            && cache.local_offsets[n] as usize == cache.local_src.len()
            && cache.local_src.len() == cache.local_dst.len()
            && cache.local_src.len() == cache.local_distance.len()
            && cache.pair_offsets[n] * 3 == cache.infinite.len();
        if !consistent {
            return Err(Error::new(
                dir,
                ErrorKind::BadShard("graph cache arrays disagree in length".into()),
            ));
        }
        Ok(cache)
    }

    /// The graph of material `i` (empty slices if it failed to build).
    pub fn graph(&self, i: usize) -> potnet::PotNetGraphView<'_> {
        let (a0, a1) = (
            self.node_offsets[i] as usize,
            self.node_offsets[i + 1] as usize,
        );
        let (e0, e1) = (
            self.local_offsets[i] as usize,
            self.local_offsets[i + 1] as usize,
        );
        let (p0, p1) = (self.pair_offsets[i], self.pair_offsets[i + 1]);
        potnet::PotNetGraphView {
            atomic_numbers: &self.atomic_numbers[a0..a1],
            local_src: &self.local_src[e0..e1],
            local_dst: &self.local_dst[e0..e1],
            local_distance: &self.local_distance[e0..e1],
            infinite: &self.infinite[3 * p0..3 * p1],
        }
    }
}
