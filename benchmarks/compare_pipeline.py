"""Encoder prediction against transformers' token-classification pipeline.

Same saved model, same sentences, same machine.  The pipeline gets each
sentence as its words joined by spaces and returns one label per sub-token
(aggregation "none", no label ignored); each word takes the label of the
sub-token that starts at the word's first character, which is the same
first-sub-token rule the harness uses.

    python benchmarks/compare_pipeline.py --model runs/A/bert/<hash>/model \
        [--sentences 512] [--batch-size 1 16 64]

Each row gives both sides the same batch size; a last row calls the pipeline
as it comes (no batch_size, so one text at a time) against the harness at its
configured batch size.  The timings alternate between the two sides.
"""
from __future__ import annotations

import argparse
import json

from _common import interleaved, real_test_sentences


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


def main() -> None:
    ap = argparse.ArgumentParser()
    ap.add_argument("--model", required=True, help="a saved bert system folder (runs/.../model)")
    ap.add_argument("--sentences", type=int, default=512)
    ap.add_argument("--batch-size", type=int, nargs="+", default=None,
                    help="one or more batch sizes, given to both sides (default: the system's "
                         "eval_batch_size)")
    ap.add_argument("--repeats", type=int, default=5)
    args = ap.parse_args()

    import torch
    from transformers import pipeline

    from systems.encoder import EncoderTagger

    system = EncoderTagger.load(args.model)
    sizes = args.batch_size or [system.config.eval_batch_size]
    sentences, _ = real_test_sentences(args.sentences, system.scheme.name)
    pipe = pipeline("token-classification", model=system.model, tokenizer=system.tokenizer,
                    aggregation_strategy="none", ignore_labels=[], device=-1)
    n_tokens = sum(len(s) for s in sentences)

    def ours():
        return system.predict(sentences)

    configured = system.config.eval_batch_size
    rows = []
    for bs in [*sizes, None]:
        system.config.eval_batch_size = bs or configured

        def theirs(bs=bs):
            return pipeline_word_tags(pipe, sentences, bs)

        # The agreement pass is also each side's warm-up at this batch size.
        agree = sum(a == b for p, q in zip(ours(), theirs())
                    for a, b in zip(p, q)) / n_tokens
        t_ours, t_pipe = interleaved([ours, theirs], args.repeats, warmup=False)
        rows.append({
            "batch_size": bs or f"harness {configured}, pipeline default",
            "harness_sentences_per_s": round(len(sentences) / t_ours, 1),
            "pipeline_sentences_per_s": round(len(sentences) / t_pipe, 1),
            "speedup": round(t_pipe / t_ours, 2),
            "token_agreement": agree,
        })
    print(json.dumps({
        "model": args.model, "sentences": len(sentences), "tokens": n_tokens,
        "threads": torch.get_num_threads(), "repeats": args.repeats, "results": rows,
    }, indent=2))


if __name__ == "__main__":
    main()
