//! The store pipeline: every description of a store embedded into its `text` modality with the
//! tiny fixture checkpoint gives the same vectors as embedding the texts directly, one metrics
//! line per chunk, and a second run replaces the modality.

mod common;

use common::{fixtures, tempdir};
use multimat_bert::{cpu_device, embed_store, Pooling, StoreTextEvent, StoreTextJob, TextEncoder};
use multimat_dataset::Store;
use serde_json::json;

fn rocksalt(a: f64) -> serde_json::Value {
    json!({
        "lattice": {"matrix": [[0.0, a / 2.0, a / 2.0], [a / 2.0, 0.0, a / 2.0], [a / 2.0, a / 2.0, 0.0]]},
        "sites": [
            {"species": [{"element": "Na", "occu": 1}], "abc": [0.0, 0.0, 0.0]},
            {"species": [{"element": "Cl", "occu": 1}], "abc": [0.5, 0.5, 0.5]}
        ]
    })
}

#[test]
fn embeds_a_store_and_resumes() {
    let tmp = tempdir("store-text");
    let docs: Vec<serde_json::Value> = (1..=3)
        .map(|k| {
            let mut d = json!({"material_id": format!("mp-{k}"), "structure": rocksalt(5.0 + k as f64 * 0.1)});
            if k <= 2 {
                d["description"] = format!("NaCl variant {k} is rock salt structured.").into();
            }
            d
        })
        .collect();
    let input = tmp.0.join("docs.json");
    std::fs::write(&input, serde_json::to_vec(&docs).unwrap()).unwrap();
    let store_dir = tmp.0.join("store");
    multimat_import::import(
        &store_dir,
        std::slice::from_ref(&input),
        None,
        &Default::default(),
        &|_| {},
    )
    .unwrap();
    let job = StoreTextJob {
        model: fixtures().join("tiny"),
        store: store_dir.clone(),
        pooling: Pooling::Cls,
        batch_size: 2,
        chunk: 1,
        metrics: Some(tmp.0.join("metrics.jsonl")),
    };
    let mut embedded = 0;
    let summary = embed_store(&job, &cpu_device(), &mut |e| {
        if let StoreTextEvent::Embedded { count } = e {
            embedded += count;
        }
    })
    .unwrap();
    assert_eq!((summary.rows, summary.computed, summary.total), (2, 2, 2));
    assert_eq!(embedded, 2);
    let metrics = std::fs::read_to_string(tmp.0.join("metrics.jsonl")).unwrap();
    assert_eq!(metrics.lines().count(), 2, "one line per chunk");

    // The stored vectors are the encoder's vectors of the descriptions (to f16 precision).
    let store = Store::open(&store_dir).unwrap();
    let text = store.modality("text").expect("a text modality");
    let rows = store.modality_rows("text").unwrap();
    let enc = TextEncoder::load(&fixtures().join("tiny"), &cpu_device()).unwrap();
    let texts = [
        "NaCl variant 1 is rock salt structured.",
        "NaCl variant 2 is rock salt structured.",
    ];
    let direct = enc
        .embed_tokens(
            &enc.tokenize(&texts, &["mp-1", "mp-2"]).unwrap(),
            Pooling::Cls,
            2,
            &mut |_| {},
        )
        .vectors;
    for (k, row) in rows.iter().take(2).enumerate() {
        let got = text
            .row(row.expect("described materials have a row"))
            .unwrap();
        let want = &direct[k * enc.dim()..(k + 1) * enc.dim()];
        assert!(common::max_abs_diff(&got, want) < 1e-2);
    }
    assert!(rows[2].is_none(), "mp-3 has no description");
    drop(store);

    // A second run over the committed store replaces the modality.
    let again = embed_store(&job, &cpu_device(), &mut |_| {}).unwrap();
    assert!(again.replaced);
    assert_eq!(again.rows, 2);
}
