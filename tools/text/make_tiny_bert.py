"""Fixtures for the multimat-bert tests that need no downloaded weights.

Writes fixtures/bert/tiny/ (a tiny random BERT: config.json, vocab.txt, tokenizer.json,
model.safetensors, pytorch_model.bin), fixtures/bert/tiny_cased_vocab.txt and
fixtures/bert/tiny_reference.json: token ids from HF's tokenizers (cased and uncased) and the
CLS / mean vectors of the tiny model computed by `transformers.BertModel`, for a few real
robocrystallographer descriptions (one longer than the tiny model's 64-token limit).

Run from the repository root:  /tmp/bertref/bin/python tools/text/make_tiny_bert.py
Needs torch, transformers, numpy (see tools/text/README.md).
"""
import gzip
import json
import os
import re

import numpy as np
import torch
from transformers import BertConfig, BertModel, BertTokenizer, BertTokenizerFast

ROOT = os.path.dirname(os.path.dirname(os.path.dirname(os.path.abspath(__file__))))
OUT = os.path.join(ROOT, "fixtures", "bert")
TINY = os.path.join(OUT, "tiny")
os.makedirs(TINY, exist_ok=True)

rows = [json.loads(l) for l in gzip.open(os.path.join(ROOT, "data/raw/text/robocrys_mp_descriptions.jsonl.gz"), "rt")]
# Whole descriptions (longer than 64 tokens: truncated) and their first sentences (not).
texts = [rows[i]["description"] for i in (0, 1, 5)]
texts += [rows[i]["description"].split(". ")[0] + "." for i in (2, 3, 8, 13)]
texts.append("Ünïcode àccents, CAPITALS and 3.29 Å bond lengths!")
texts.append(max((r["description"] for r in rows[:200]), key=len)[:1500])

# A vocabulary that covers most of the words of a few descriptions: whole words, then
# '##' pieces of the rest, so WordPiece splitting and [UNK] both occur.
SPECIAL = ["[PAD]", "[UNK]", "[CLS]", "[SEP]", "[MASK]"]


def vocab_from(corpus, lower):
    words = {}
    for t in corpus:
        t = t.lower() if lower else t
        for w in re.findall(r"\w+|[^\w\s]", t):
            words[w] = words.get(w, 0) + 1
    common = sorted(words, key=lambda w: (-words[w], w))
    keep = [w for w in common if len(w) <= 6][:220]
    pieces = set()
    for w in common[220:320]:
        pieces.add(w[:3])
        for i in range(3, len(w), 3):
            pieces.add("##" + w[i : i + 3])
    chars = sorted({c for t in corpus for c in (t.lower() if lower else t) if not c.isspace()})
    out = SPECIAL + keep + sorted(pieces) + chars + ["##" + c for c in chars if c.isalnum()]
    seen, uniq = set(), []
    for w in out:
        if w not in seen:
            seen.add(w)
            uniq.append(w)
    return uniq


corpus = [r["description"] for r in rows[:40]]
uncased = vocab_from(corpus, True)
cased = vocab_from(corpus, False)
with open(os.path.join(TINY, "vocab.txt"), "w") as f:
    f.write("\n".join(uncased) + "\n")
with open(os.path.join(OUT, "tiny_cased_vocab.txt"), "w") as f:
    f.write("\n".join(cased) + "\n")

tok_uncased = BertTokenizer(os.path.join(TINY, "vocab.txt"), do_lower_case=True)
tok_cased = BertTokenizer(os.path.join(OUT, "tiny_cased_vocab.txt"), do_lower_case=False)
fast = BertTokenizerFast(os.path.join(TINY, "vocab.txt"), do_lower_case=True)
fast.backend_tokenizer.save(os.path.join(TINY, "tokenizer.json"))

torch.manual_seed(7)
cfg = BertConfig(
    vocab_size=len(uncased),
    hidden_size=32,
    num_hidden_layers=2,
    num_attention_heads=4,
    intermediate_size=37,
    max_position_embeddings=64,
    type_vocab_size=2,
    hidden_act="gelu",
    layer_norm_eps=1e-12,
)
model = BertModel(cfg, add_pooling_layer=True).eval()
# Random init is N(0, 0.02); widen the LayerNorms so their affine parts are exercised too.
with torch.no_grad():
    for name, p in model.named_parameters():
        if "LayerNorm" in name:
            p.add_(torch.randn_like(p) * 0.3)
model.save_pretrained(TINY, safe_serialization=True)
# The same weights as a BertForMaskedLM-style pytorch_model.bin (keys prefixed with "bert."),
# the layout of MatSciBERT/SciBERT checkpoints.
sd = {"bert." + k: v.clone() for k, v in model.state_dict().items()}
os.makedirs(os.path.join(TINY, "bin"), exist_ok=True)
torch.save(sd, os.path.join(TINY, "bin", "pytorch_model.bin"))
cfg.save_pretrained(os.path.join(TINY, "bin"))
with open(os.path.join(TINY, "bin", "vocab.txt"), "w") as f:
    f.write("\n".join(uncased) + "\n")

ref = {"model": "tiny random BERT (tools/text/make_tiny_bert.py, seed 7)", "max_length": 64, "texts": []}
for t in texts:
    enc = tok_uncased(t, truncation=True, max_length=64, return_tensors="pt")
    full = tok_uncased(t)["input_ids"]
    with torch.no_grad():
        h = model(**enc).last_hidden_state[0]
    ref["texts"].append(
        {
            "text": t,
            "ids_uncased": enc["input_ids"][0].tolist(),
            "truncated": len(full) > 64,
            "ids_cased": tok_cased(t, truncation=True, max_length=512)["input_ids"],
            "ids_fast": fast(t, truncation=True, max_length=64)["input_ids"],
            "cls": [float(x) for x in h[0]],
            "mean": [float(x) for x in h.mean(0)],
        }
    )
# A padded batch through HF (attention mask) must give the same vectors as one at a time.
with open(os.path.join(OUT, "tiny_reference.json"), "w") as f:
    json.dump(ref, f)
print("vocab", len(uncased), "cased", len(cased), "texts", len(texts),
      "truncated", sum(r["truncated"] for r in ref["texts"]))
