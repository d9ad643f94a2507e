//! The encoder against `transformers` on a tiny random BERT (fixtures/bert/tiny, made by
//! tools/text/make_tiny_bert.py): tokenizer ids (uncased vocab.txt, cased vocab.txt,
//! tokenizer.json), CLS and mean vectors from model.safetensors and from a `bert.`-prefixed
//! pytorch_model.bin, padding independence, and bad-input errors.

mod common;

use common::*;
use multimat_bert::*;

fn reference() -> serde_json::Value {
    json(&fixtures().join("tiny_reference.json"))
}

fn texts(r: &serde_json::Value) -> Vec<String> {
    r["texts"]
        .as_array()
        .unwrap()
        .iter()
        .map(|t| t["text"].as_str().unwrap().to_string())
        .collect()
}

#[test]
fn tokenizers_match_hf_cased_and_uncased() {
    let r = reference();
    let uncased = BertTokenizer::from_vocab(&fixtures().join("tiny/vocab.txt"), None, 64).unwrap();
    assert_eq!(
        uncased.source(),
        &TokenizerSource::Vocab {
            path: fixtures().join("tiny/vocab.txt"),
            lowercase: true
        }
    );
    let cased_path = fixtures().join("tiny_cased_vocab.txt");
    let cased = BertTokenizer::from_vocab(&cased_path, None, 512).unwrap();
    assert_eq!(
        cased.source(),
        &TokenizerSource::Vocab {
            path: cased_path,
            lowercase: false
        }
    );
    let json =
        BertTokenizer::from_tokenizer_json(&fixtures().join("tiny/tokenizer.json"), 64).unwrap();
    let mut truncated = 0;
    for (i, t) in r["texts"].as_array().unwrap().iter().enumerate() {
        let text = t["text"].as_str().unwrap();
        let u = uncased.encode(text, i, "t").unwrap();
        assert_eq!(u.ids, ids(&t["ids_uncased"]), "uncased text {i}");
        assert_eq!(u.truncated, t["truncated"].as_bool().unwrap(), "text {i}");
        truncated += usize::from(u.truncated);
        assert_eq!(
            cased.encode(text, i, "t").unwrap().ids,
            ids(&t["ids_cased"]),
            "cased text {i}"
        );
        assert_eq!(
            json.encode(text, i, "t").unwrap().ids,
            ids(&t["ids_fast"]),
            "json text {i}"
        );
    }
    // The fixture covers both cases.
    assert!(truncated > 0 && truncated < r["texts"].as_array().unwrap().len());
    // Uncased and cased tokenizations of the same text differ (capitals are kept).
    let t = &r["texts"][0]["text"].as_str().unwrap();
    assert_ne!(
        uncased.encode(t, 0, "").unwrap().ids,
        cased.encode(t, 0, "").unwrap().ids
    );
}

fn check_vectors(enc: &TextEncoder, r: &serde_json::Value, batch: usize) {
    let texts = texts(r);
    let refs: Vec<&str> = texts.iter().map(String::as_str).collect();
    let names: Vec<&str> = refs.iter().map(|_| "t").collect();
    for (pooling, key) in [(Pooling::Cls, "cls"), (Pooling::Mean, "mean")] {
        let e = enc.embed(&refs, &names, pooling, batch).unwrap();
        assert_eq!(e.dim, 32);
        for (i, t) in r["texts"].as_array().unwrap().iter().enumerate() {
            let want = floats(&t[key]);
            let d = max_abs_diff(e.row(i), &want);
            assert!(d < 2e-5, "{key} text {i} batch {batch}: max |Δ| {d}");
            assert!(cosine(e.row(i), &want) > 0.999_999, "{key} text {i}");
        }
    }
}

#[test]
fn tiny_safetensors_model_matches_transformers() {
    let r = reference();
    let enc = TextEncoder::load(&fixtures().join("tiny"), &cpu_device()).unwrap();
    assert_eq!(enc.files.weight_format, WeightFormat::Safetensors);
    assert_eq!(enc.tokenizer.max_len(), 64);
    assert_eq!(enc.fingerprint().len(), 64);
    // One at a time, and in padded batches of mixed lengths.
    check_vectors(&enc, &r, 1);
    check_vectors(&enc, &r, 4);
    let info = enc.info(Pooling::Cls, 9, 4, "f16");
    assert_eq!(
        (info.dim, info.pooling.as_str(), info.weights_file.as_str()),
        (32, "cls", "model.safetensors")
    );
    assert_eq!(info.tokenizer_file, "tokenizer.json");
}

#[test]
fn tiny_pytorch_bin_with_bert_prefix_matches_transformers() {
    let r = reference();
    let enc = TextEncoder::load(&fixtures().join("tiny/bin"), &cpu_device()).unwrap();
    assert_eq!(enc.files.weight_format, WeightFormat::Pytorch);
    assert_eq!(
        enc.tokenizer.source(),
        &TokenizerSource::Vocab {
            path: fixtures().join("tiny/bin/vocab.txt"),
            lowercase: true
        }
    );
    check_vectors(&enc, &r, 3);
}

#[test]
fn length_batches_group_similar_lengths() {
    let t = |n: usize| Tokenized {
        ids: vec![1; n],
        truncated: false,
    };
    let toks = vec![t(9), t(3), t(5), t(3), t(12)];
    assert_eq!(
        length_batches(&toks, 2),
        vec![vec![1, 3], vec![2, 0], vec![4]]
    );
    assert_eq!(length_batches(&toks, 0).len(), 5);
}

#[test]
fn missing_files_are_named() {
    let tmp = tempdir("missing");
    let e = TextEncoder::load(&tmp.0.join("nope"), &cpu_device()).unwrap_err();
    assert!(e.to_string().contains("not found or not a folder"), "{e}");
    let e = TextEncoder::load(&tmp.0, &cpu_device()).unwrap_err();
    assert!(e.to_string().contains("missing config.json"), "{e}");
    std::fs::copy(
        fixtures().join("tiny/config.json"),
        tmp.0.join("config.json"),
    )
    .unwrap();
    let e = TextEncoder::load(&tmp.0, &cpu_device()).unwrap_err();
    assert!(
        e.to_string()
            .contains("missing tokenizer.json or vocab.txt"),
        "{e}"
    );
    std::fs::copy(fixtures().join("tiny/vocab.txt"), tmp.0.join("vocab.txt")).unwrap();
    let e = TextEncoder::load(&tmp.0, &cpu_device()).unwrap_err();
    assert!(
        e.to_string()
            .contains("missing model.safetensors or pytorch_model.bin"),
        "{e}"
    );
}

#[test]
fn non_bert_config_and_mismatched_shapes_are_refused() {
    let tmp = tempdir("shapes");
    copy_files(&fixtures().join("tiny"), &tmp.0);
    let config = std::fs::read_to_string(fixtures().join("tiny/config.json")).unwrap();
    let mut v: serde_json::Value = serde_json::from_str(&config).unwrap();
    v["model_type"] = "roberta".into();
    std::fs::write(tmp.0.join("config.json"), v.to_string()).unwrap();
    let e = TextEncoder::load(&tmp.0, &cpu_device()).unwrap_err();
    assert!(matches!(e, BertError::NotBert { .. }), "{e}");
    assert!(
        e.to_string()
            .contains("config.json: model_type \"roberta\""),
        "{e}"
    );

    // A config whose feed-forward width disagrees with the weights.
    v["model_type"] = "bert".into();
    v["intermediate_size"] = 40.into();
    std::fs::write(tmp.0.join("config.json"), v.to_string()).unwrap();
    let e = TextEncoder::load(&tmp.0, &cpu_device()).unwrap_err();
    let msg = e.to_string();
    assert!(matches!(e, BertError::Weights { .. }), "{msg}");
    assert!(
        msg.contains("model.safetensors: weights:") && msg.contains("intermediate"),
        "{msg}"
    );

    // More layers than the file holds: the missing parameters are named.
    v["intermediate_size"] = 37.into();
    v["num_hidden_layers"] = 3.into();
    std::fs::write(tmp.0.join("config.json"), v.to_string()).unwrap();
    let e = TextEncoder::load(&tmp.0, &cpu_device()).unwrap_err();
    assert!(e.to_string().contains("encoder.layer.2."), "{e}");

    // A vocabulary larger than the model's embedding table.
    v["num_hidden_layers"] = 2.into();
    v["vocab_size"] = 100.into();
    std::fs::write(tmp.0.join("config.json"), v.to_string()).unwrap();
    let e = TextEncoder::load(&tmp.0, &cpu_device()).unwrap_err();
    assert!(e.to_string().contains("do not belong together"), "{e}");
}

#[test]
fn empty_texts_and_bad_vocabularies_are_refused() {
    let enc = TextEncoder::load(&fixtures().join("tiny"), &cpu_device()).unwrap();
    let e = enc
        .embed(
            &["Si is diamond structured.", "  \n"],
            &["mp-149", "mp-1"],
            Pooling::Cls,
            2,
        )
        .unwrap_err();
    assert_eq!(e.to_string(), "text 1 (mp-1): the text is empty");
    let tmp = tempdir("vocab");
    let vocab = tmp.0.join("vocab.txt");
    std::fs::write(&vocab, "[PAD]\n[UNK]\nhello\n").unwrap();
    let e = BertTokenizer::from_vocab(&vocab, None, 64).unwrap_err();
    assert!(e.to_string().contains("no [CLS] token"), "{e}");
    std::fs::write(&vocab, "").unwrap();
    let e = BertTokenizer::from_vocab(&vocab, None, 64).unwrap_err();
    assert!(e.to_string().contains("vocab.txt: tokenizer:"), "{e}");
    let bad_json = tmp.0.join("tokenizer.json");
    std::fs::write(&bad_json, "{\"not\": \"a tokenizer\"}").unwrap();
    let e = BertTokenizer::from_tokenizer_json(&bad_json, 64).unwrap_err();
    assert!(e.to_string().contains("tokenizer.json: tokenizer:"), "{e}");
}
