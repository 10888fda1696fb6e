"""Encoder prediction on each backend against transformers' token-classification pipeline.

Same saved model, same sentences, same machine.  The pipeline gets each
sentence as its words joined by spaces and returns one label per sub-token
(aggregation "none", no label ignored); each word takes the label of the
sub-token that starts at the word's first character, which is the same
first-sub-token rule the harness uses.

    python benchmarks/compare_pipeline.py --model runs/A/bert/<hash>/model \
        [--sentences 0] [--batch-size 16] [--backends torch:fp32,torch:int8,onnx:fp32,onnx:int8]

For each backend: sentences/s, its ratio to the pipeline at the same batch
size, its achieved GFLOP/s and their share of the machine's measured peak in
the backend's precision (`harness.measure.roofline`), its word-tag agreement
with torch fp32, and test P/R/F1 on the same sentences (`--sentences 0`: the
whole test split).  All sides' timings are
interleaved in one loop, so drift in the machine's speed hits all alike.
"""
from __future__ import annotations

import argparse
import dataclasses
import json

from _common import interleaved, real_test_sentences, saved_scheme


def pipeline_word_tags(pipe, sentences, batch_size=None):
    """Word tags from the pipeline; batch_size None calls it as it comes (batch 1)."""
    texts = [" ".join(s) for s in sentences]
    outputs = pipe(texts) if batch_size is None else pipe(texts, batch_size=batch_size)
    tags = []
    for words, out in zip(sentences, outputs):
        starts, pos = {}, 0
        for i, w in enumerate(words):
            starts[pos] = i
            pos += len(w) + 1
        word_tags = ["O"] * len(words)
        for tok in out:
            if tok["start"] in starts and not tok["word"].startswith("##"):
                word_tags[starts[tok["start"]]] = tok["entity"]
        tags.append(word_tags)
    return tags


def load_backends(model: str, names: list[str], batch_size: int) -> dict:
    """name -> the saved system predicting on that backend and precision."""
    from systems.encoder.tagger import EncoderTagger

    base = EncoderTagger.load(model, scheme=saved_scheme(model))
    systems = {}
    for name in names:
        backend, _, precision = name.partition(":")
        cfg = dataclasses.replace(base.config, backend=backend, precision=precision or "fp32",
                                  eval_batch_size=batch_size)
        systems[name] = EncoderTagger.load(model, cfg, scheme=base.scheme)
    return systems


def agreement(pred, reference) -> float:
    pairs = [(a, b) for p, q in zip(pred, reference) for a, b in zip(p, q)]
    return sum(a == b for a, b in pairs) / len(pairs)


def main() -> None:
    ap = argparse.ArgumentParser()
    ap.add_argument("--model", required=True, help="a saved bert system folder (runs/.../model)")
    ap.add_argument("--sentences", type=int, default=0, help="0: the whole test split")
    ap.add_argument("--batch-size", type=int, default=16)
    ap.add_argument("--backends", default="torch:fp32,torch:int8,onnx:fp32,onnx:int8")
    ap.add_argument("--repeats", type=int, default=3)
    args = ap.parse_args()

    import torch
    from transformers import pipeline

    from harness.measure import roofline
    from harness.evaluation.metrics import score
    from harness.measure.provenance import git_commit, hardware

    names = args.backends.split(",")
    systems = load_backends(args.model, names, args.batch_size)
    first = systems[names[0]]
    sentences, gold = real_test_sentences(args.sentences, first.scheme.name)
    pipe = pipeline("token-classification", model=first.model, tokenizer=first.tokenizer,
                    aggregation_strategy="none", ignore_labels=[], device=-1)
    fns = [lambda s=s: s.predict(sentences) for s in systems.values()]
    fns.append(lambda: pipeline_word_tags(pipe, sentences, args.batch_size))
    # The prediction pass is also each side's warm-up (the ONNX export happens here).
    preds, flops = {}, {}
    for name, s in systems.items():
        before = s.flops_done()
        preds[name] = s.predict(sentences)
        flops[name] = s.flops_done() - before
    pipe_pred = pipeline_word_tags(pipe, sentences, args.batch_size)
    times = interleaved(fns, args.repeats, warmup=False)
    t_pipe = times[-1]
    peaks = {name: roofline.peak_for(s.runtime_info()) for name, s in systems.items()}
    rows = []
    for (name, pred), t in zip(preds.items(), times):
        s = score(gold, pred)
        gflops = flops[name] / t / 1e9
        rows.append({"backend": name, "sentences_per_s": round(len(sentences) / t, 1),
                     "vs_pipeline": round(t_pipe / t, 2), "gflops_per_s": round(gflops, 1),
                     "share_of_peak": round(gflops / peaks[name]["gflops"], 3),
                     "tag_agreement_with_first": round(agreement(pred, preds[names[0]]), 5),
                     "precision": round(s["precision"], 4), "recall": round(s["recall"], 4),
                     "f1": round(s["f1"], 4)})
    print(json.dumps({
        "model": args.model, "sentences": len(sentences), "batch_size": args.batch_size,
        "threads": torch.get_num_threads(), "repeats": args.repeats, "hardware": hardware(),
        "commit": git_commit(),
        "peaks": {p["precision"]: p for p in peaks.values()},
        "gflop_per_sentence": round(flops[names[0]] / len(sentences) / 1e9, 3),
        "pipeline": {"sentences_per_s": round(len(sentences) / t_pipe, 1),
                     "tag_agreement_with_first": round(agreement(pipe_pred, preds[names[0]]), 5)},
        "results": rows,
    }, indent=2))


if __name__ == "__main__":
    main()
