//! Reproducible train/val/test splits saved as `splits/NAME.json`.
//!
//! Algorithm (reproducible from the id list and the seed alone, in any language):
//! 1. sort the ids byte-wise (Rust `str` order = Python `sorted()` on ASCII ids);
//! 2. shuffle them with Fisher–Yates driven by SplitMix64 seeded with `seed`:
//!    for `i = n-1 down to 1`: `j = (next() * (i+1)) >> 64` (128-bit product), swap `i`, `j`;
//!    where SplitMix64 `next()` is `state += 0x9E3779B97F4A7C15; z = state;
//!    z = (z ^ (z >> 30)) * 0xBF58476D1CE4E5B9; z = (z ^ (z >> 27)) * 0x94D049BB133111EB;
//!    return z ^ (z >> 31)` (all arithmetic wrapping mod 2⁶⁴);
//! 3. the first ⌊r₀·n⌋ shuffled ids are train, the next ⌊r₁·n⌋ val, the rest test (the
//!    fine-tuning convention of the reference, spec §1.7, with its NumPy shuffle replaced by
//!    this documented one). `tools/fixtures/read_store.py` re-implements it in Python.

use std::collections::HashSet;

use serde::{Deserialize, Serialize};

use crate::error::{Error, ErrorKind, Result};
use crate::manifest::{now_iso8601, write_atomic};
use crate::store::Store;

/// The SplitMix64 generator (Steele, Lea & Flood 2014), used for splits and epoch shuffles.
#[derive(Debug, Clone)]
pub struct SplitMix64 {
    state: u64,
}

impl SplitMix64 {
    pub fn new(seed: u64) -> Self {
        SplitMix64 { state: seed }
    }

    pub fn next_u64(&mut self) -> u64 {
        self.state = self.state.wrapping_add(0x9E37_79B9_7F4A_7C15);
        let mut z = self.state;
        z = (z ^ (z >> 30)).wrapping_mul(0xBF58_476D_1CE4_E5B9);
        z = (z ^ (z >> 27)).wrapping_mul(0x94D0_49BB_1331_11EB);
        z ^ (z >> 31)
    }

    /// Uniform integer in `0..bound` (`bound` > 0) by the multiply-shift map.
    pub fn below(&mut self, bound: usize) -> usize {
        ((self.next_u64() as u128 * bound as u128) >> 64) as usize
    }

    /// Fisher–Yates shuffle from the last element down.
    pub fn shuffle<T>(&mut self, v: &mut [T]) {
        for i in (1..v.len()).rev() {
            let j = self.below(i + 1);
            v.swap(i, j);
        }
    }
}

/// A split as saved in `splits/NAME.json`.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct Split {
    pub name: String,
    pub seed: u64,
    /// Train, val, test fractions (test takes the remainder).
    pub ratios: [f64; 3],
    pub train: Vec<String>,
    pub val: Vec<String>,
    pub test: Vec<String>,
    pub created: String,
    /// Materials in the store when the split was made.
    pub store_materials: usize,
}

/// Table positions of a split's members.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct SplitIndices {
    pub train: Vec<usize>,
    pub val: Vec<usize>,
    pub test: Vec<usize>,
}

fn check_ratios(ratios: [f64; 3], name: &str) -> Result<()> {
    let ok = ratios.iter().all(|r| r.is_finite() && *r >= 0.0)
        && ratios.iter().sum::<f64>() <= 1.0 + 1e-9;
    if !ok {
        return Err(Error::new(
            format!("splits/{name}.json"),
            ErrorKind::InvalidSplit(format!(
                "ratios {ratios:?} must be >= 0 and sum to at most 1"
            )),
        ));
    }
    Ok(())
}

fn check_split_name(name: &str) -> Result<()> {
    let ok = !name.is_empty()
        && name.len() <= 128
        && !name.starts_with('.')
        && name
            .chars()
            .all(|c| c.is_ascii_alphanumeric() || "_-.".contains(c));
    if !ok {
        return Err(Error::new(
            format!("splits/{name}.json"),
            ErrorKind::InvalidName(format!("split name {name:?}: use letters, digits, _ - .")),
        ));
    }
    Ok(())
}

/// Splits `ids` into (train, val, test) by the documented algorithm (see module docs).
pub fn split_ids(
    ids: &[String],
    seed: u64,
    ratios: [f64; 3],
) -> (Vec<String>, Vec<String>, Vec<String>) {
    let mut sorted: Vec<String> = ids.to_vec();
    sorted.sort();
    SplitMix64::new(seed).shuffle(&mut sorted);
    let n = sorted.len();
    let n_train = ((ratios[0] * n as f64).floor() as usize).min(n);
    let n_val = ((ratios[1] * n as f64).floor() as usize).min(n - n_train);
    let test = sorted.split_off(n_train + n_val);
    let val = sorted.split_off(n_train);
    (sorted, val, test)
}

/// Makes a split of all materials of `store`.
pub fn make_split(store: &Store, seed: u64, ratios: [f64; 3], name: &str) -> Result<Split> {
    make_split_of(store, store.ids(), seed, ratios, name)
}

/// Makes a split of the materials `ids` of `store` (e.g. those with a fine-tuning target).
pub fn make_split_of(
    store: &Store,
    ids: &[String],
    seed: u64,
    ratios: [f64; 3],
    name: &str,
) -> Result<Split> {
    check_split_name(name)?;
    check_ratios(ratios, name)?;
    let (train, val, test) = split_ids(ids, seed, ratios);
    Ok(Split {
        name: name.to_string(),
        seed,
        ratios,
        train,
        val,
        test,
        created: now_iso8601(),
        store_materials: store.len(),
    })
}

/// Writes `STORE/splits/NAME.json` atomically.
pub fn save_split(store: &Store, split: &Split) -> Result<std::path::PathBuf> {
    check_split_name(&split.name)?;
    let dir = store.dir().join("splits");
    std::fs::create_dir_all(&dir).map_err(|e| Error::io(&dir, e))?;
    let path = dir.join(format!("{}.json", split.name));
    let text =
        serde_json::to_vec(split).map_err(|e| Error::new(&path, ErrorKind::Io(e.to_string())))?;
    write_atomic(&path, &text)?;
    Ok(path)
}

/// Reads `STORE/splits/NAME.json` and checks that every id is in the store and appears once.
pub fn load_split(store: &Store, name: &str) -> Result<Split> {
    check_split_name(name)?;
    let path = store.dir().join("splits").join(format!("{name}.json"));
    load_split_file(store, &path)
}

/// Reads a split file kept outside the store (a model folder's `split.json`) and checks it
/// against `store` as [`load_split`] does.
pub fn load_split_file(store: &Store, path: &std::path::Path) -> Result<Split> {
    let path = path.to_path_buf();
    let bytes = std::fs::read(&path).map_err(|e| Error::io(&path, e))?;
    let split: Split = serde_json::from_slice(&bytes)
        .map_err(|e| Error::new(&path, ErrorKind::InvalidSplit(e.to_string())))?;
    let mut seen = HashSet::with_capacity(split.train.len() + split.val.len() + split.test.len());
    for id in split.train.iter().chain(&split.val).chain(&split.test) {
        if store.index_of(id).is_none() {
            return Err(Error::new(&path, ErrorKind::UnknownId(id.clone())));
        }
        if !seen.insert(id.as_str()) {
            return Err(Error::new(
                &path,
                ErrorKind::InvalidSplit(format!("id {id:?} appears twice")),
            ));
        }
    }
    Ok(split)
}

/// The split `name` of `store`: read from `splits/NAME.json` when that file exists, otherwise
/// made over `ids` with `seed` and `ratios` and saved there. The flag is `true` when an existing
/// file was reused (its own seed and ratios then apply, not the given ones).
///
/// A new split is deterministic in (ids, seed, ratios), so two jobs creating it at once write
/// the same file.
pub fn load_or_make_split(
    store: &Store,
    name: &str,
    ids: &[String],
    seed: u64,
    ratios: [f64; 3],
) -> Result<(Split, bool)> {
    check_split_name(name)?;
    let path = store.dir().join("splits").join(format!("{name}.json"));
    if path.exists() {
        return Ok((load_split(store, name)?, true));
    }
    let split = make_split_of(store, ids, seed, ratios, name)?;
    save_split(store, &split)?;
    Ok((split, false))
}

impl Split {
    /// Table positions of the members of each part, in split order.
    pub fn indices(&self, store: &Store) -> Result<SplitIndices> {
        let map = |ids: &[String]| -> Result<Vec<usize>> {
            ids.iter()
                .map(|id| {
                    store.index_of(id).ok_or_else(|| {
                        Error::new(
                            store
                                .dir()
                                .join("splits")
                                .join(format!("{}.json", self.name)),
                            ErrorKind::UnknownId(id.clone()),
                        )
                    })
                })
                .collect()
        };
        Ok(SplitIndices {
            train: map(&self.train)?,
            val: map(&self.val)?,
            test: map(&self.test)?,
        })
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn splitmix_reference_values() {
        // First outputs for seed 0 of the reference splitmix64.c (Vigna).
        let mut r = SplitMix64::new(0);
        assert_eq!(r.next_u64(), 0xE220_A839_7B1D_CDAF);
        assert_eq!(r.next_u64(), 0x6E78_9E6A_A1B9_65F4);
    }

    #[test]
    fn split_sizes_follow_floor_convention() {
        let ids: Vec<String> = (0..10).map(|i| format!("mp-{i}")).collect();
        let (tr, va, te) = split_ids(&ids, 42, [0.7, 0.2, 0.1]);
        assert_eq!((tr.len(), va.len(), te.len()), (7, 2, 1));
        let mut all: Vec<String> = tr.iter().chain(&va).chain(&te).cloned().collect();
        all.sort();
        let mut sorted = ids.clone();
        sorted.sort();
        assert_eq!(all, sorted);
        // Input order does not matter, the seed does.
        let mut rev = ids.clone();
        rev.reverse();
        assert_eq!(split_ids(&rev, 42, [0.7, 0.2, 0.1]).0, tr);
        assert_ne!(split_ids(&ids, 43, [0.7, 0.2, 0.1]).0, tr);
    }
}
