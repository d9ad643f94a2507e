//! Mini-batches with existence masks (the reference's "mask mode": every material is a row,
//! missing modalities are zeros plus `exists = false`).

use std::collections::BTreeMap;

use rayon::prelude::*;

use crate::error::{Error, ErrorKind, Result};
use crate::manifest::TABLE_FILE;
use crate::split::SplitMix64;
use crate::store::Store;

/// A collated batch of B materials.
#[derive(Debug, Clone, PartialEq)]
pub struct Batch {
    /// Table positions of the B materials.
    pub indices: Vec<usize>,
    /// Modality → (values `[B, *shape]` flattened in C order with zeros where missing,
    /// exists mask of length B).
    pub modalities: BTreeMap<String, (Vec<f32>, Vec<bool>)>,
}

/// Reads the rows of `modalities` for the materials at `indices`. Rows are decoded in
/// parallel (a batch of 32³ densities is 128 KiB per material).
pub fn collate(store: &Store, indices: &[usize], modalities: &[&str]) -> Result<Batch> {
    if let Some(&bad) = indices.iter().find(|&&i| i >= store.len()) {
        return Err(Error::new(
            store.dir().join(TABLE_FILE),
            ErrorKind::OutOfRange {
                index: bad,
                len: store.len(),
            },
        ));
    }
    let mut out = BTreeMap::new();
    for &name in modalities {
        let arr = store.modality(name).ok_or_else(|| {
            Error::new(
                store.dir().join(TABLE_FILE),
                ErrorKind::UnknownModality(name.into()),
            )
        })?;
        let rows = store.modality_rows(name)?;
        let n = arr.row_len();
        let mut values = vec![0f32; indices.len() * n];
        let exists: Vec<bool> = indices.iter().map(|&i| rows[i].is_some()).collect();
        if n > 0 {
            values
                .par_chunks_mut(n)
                .zip(indices.par_iter())
                .try_for_each(|(chunk, &i)| match rows[i] {
                    Some(r) => arr.read_row_into(r, chunk),
                    None => Ok(()),
                })?;
        }
        out.insert(name.to_string(), (values, exists));
    }
    Ok(Batch {
        indices: indices.to_vec(),
        modalities: out,
    })
}

/// Splits `indices` into mini-batches of `batch_size` after a shuffle that depends only on
/// (`seed`, `epoch`): SplitMix64 seeded with `seed ^ epoch·0xD1B54A32D192ED03` (wrapping),
/// Fisher–Yates as in [`crate::split`]. With `drop_last` a short final batch is dropped.
/// Returns no batches when `batch_size` is 0.
pub fn batches(
    indices: &[usize],
    batch_size: usize,
    seed: u64,
    epoch: u64,
    drop_last: bool,
) -> Vec<Vec<usize>> {
    if batch_size == 0 {
        return Vec::new();
    }
    let mut order = indices.to_vec();
    SplitMix64::new(seed ^ epoch.wrapping_mul(0xD1B5_4A32_D192_ED03)).shuffle(&mut order);
    order
        .chunks(batch_size)
        .filter(|c| !drop_last || c.len() == batch_size)
        .map(<[usize]>::to_vec)
        .collect()
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn epochs_cover_everything_and_differ() {
        let idx: Vec<usize> = (0..103).collect();
        let e0 = batches(&idx, 10, 7, 0, false);
        assert_eq!(e0.len(), 11);
        assert_eq!(e0.last().map(Vec::len), Some(3));
        let mut all: Vec<usize> = e0.concat();
        all.sort();
        assert_eq!(all, idx);
        assert_eq!(batches(&idx, 10, 7, 0, true).len(), 10);
        assert_eq!(batches(&idx, 10, 7, 0, false), e0);
        assert_ne!(batches(&idx, 10, 7, 1, false), e0);
        assert!(batches(&idx, 0, 7, 0, false).is_empty());
    }
}
