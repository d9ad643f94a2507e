//! Store statistics: what the paper reports as "how many materials have charge density, DOS,
//! both, ...".

use std::collections::BTreeMap;

use serde::{Deserialize, Serialize};

use crate::error::Result;
use crate::store::Store;

/// Rows of one modality.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct ModalityCounts {
    /// Shape of one row.
    pub shape: Vec<usize>,
    /// `"f32"` or `"f16"`; `"string"` for the text modality counted from descriptions.
    pub dtype: String,
    /// Materials with a row given by their source.
    pub real: usize,
    /// Materials with a row derived by multimat.
    pub derived: usize,
    /// `real + derived`.
    pub total: usize,
}

/// Summary of a store (serialisable, e.g. for `multimat store info --json`).
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct StoreInfo {
    pub materials: usize,
    pub created: String,
    pub updated: String,
    /// Per modality; `text` counts the materials with a description (shape `[]`), unless the
    /// store holds a `text` modality of vectors.
    pub modalities: BTreeMap<String, ModalityCounts>,
    /// Materials per exact set of modalities they have, keyed `structure+m1+m2` with the
    /// modality names sorted (every material has a structure).
    pub combinations: BTreeMap<String, usize>,
    /// Non-null values per scalar label.
    pub labels: BTreeMap<String, usize>,
    /// Materials with an elastic tensor / an is_metal flag.
    pub elastic_tensor: usize,
    pub is_metal: usize,
    /// Materials per source.
    pub sources: BTreeMap<String, usize>,
}

/// Name under which [`info`] counts the materials that have a text description.
pub const TEXT: &str = "text";

/// Counts everything in [`StoreInfo`] from the in-memory table (no shard is read).
pub fn info(store: &Store) -> Result<StoreInfo> {
    let stored: Vec<&str> = store.modality_names().collect();
    let mut modalities = BTreeMap::new();
    let mut columns: Vec<(&str, Vec<bool>)> = Vec::with_capacity(stored.len() + 1);
    // The `description` column is the text modality until a store holds text vectors under
    // that name; then the vectors count instead.
    if !stored.contains(&TEXT) {
        let has: Vec<bool> = store.descriptions().iter().map(Option::is_some).collect();
        let total = has.iter().filter(|&&x| x).count();
        if total > 0 {
            modalities.insert(
                TEXT.to_string(),
                ModalityCounts {
                    shape: Vec::new(),
                    dtype: "string".into(),
                    real: total,
                    derived: 0,
                    total,
                },
            );
            columns.push((TEXT, has));
        }
    }
    for name in &stored {
        let e = store.exists(name)?;
        let d = store.derived(name)?;
        let total = e.iter().filter(|&&x| x).count();
        let derived = e.iter().zip(&d).filter(|(e, d)| **e && **d).count();
        let arr = store.modality(name);
        modalities.insert(
            name.to_string(),
            ModalityCounts {
                shape: arr.map(|a| a.shape().to_vec()).unwrap_or_default(),
                dtype: arr
                    .map(|a| a.dtype().name().to_string())
                    .unwrap_or_default(),
                real: total - derived,
                derived,
                total,
            },
        );
        columns.push((name, e));
    }
    columns.sort_by(|a, b| a.0.cmp(b.0));
    let mut combinations = BTreeMap::new();
    for i in 0..store.len() {
        let mut key = String::from("structure");
        for (name, e) in &columns {
            if e[i] {
                key.push('+');
                key.push_str(name);
            }
        }
        *combinations.entry(key).or_insert(0) += 1;
    }
    let mut labels = BTreeMap::new();
    for name in store.label_names() {
        labels.insert(
            name.clone(),
            store.label(name)?.iter().filter(|v| v.is_some()).count(),
        );
    }
    let mut sources = BTreeMap::new();
    for s in store.sources() {
        *sources.entry(s.clone()).or_insert(0) += 1;
    }
    Ok(StoreInfo {
        materials: store.len(),
        created: store.manifest().created.clone(),
        updated: store.manifest().updated.clone(),
        modalities,
        combinations,
        labels,
        elastic_tensor: store
            .elastic_tensors()
            .iter()
            .filter(|t| t.is_some())
            .count(),
        is_metal: store.is_metal().iter().filter(|t| t.is_some()).count(),
        sources,
    })
}
