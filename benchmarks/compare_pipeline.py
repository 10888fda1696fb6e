"""Encoder prediction against transformers' token-classification pipeline.

Same saved model, same sentences, same machine.  The pipeline gets each
sentence as its words joined by spaces and returns one label per sub-token
(aggregation "none", no label ignored); each word takes the label of the
sub-token that starts at the word's first character, which is the same
first-sub-token rule the harness uses.

    python benchmarks/compare_pipeline.py --model runs/A/bert/<hash>/model [--sentences 512]
"""
from __future__ import annotations

import argparse
import json

from _common import real_test_sentences, timed


def pipeline_word_tags(pipe, sentences, batch_size):
    texts = [" ".join(s) for s in sentences]
    outputs = pipe(texts, batch_size=batch_size)
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
    ap.add_argument("--batch-size", type=int, default=64)
    args = ap.parse_args()

    import torch
    from transformers import pipeline

    from systems.encoder import EncoderTagger

    system = EncoderTagger.load(args.model)
    system.config.eval_batch_size = args.batch_size
    scheme_name = system.scheme.name
    sentences, _ = real_test_sentences(args.sentences, scheme_name)
    pipe = pipeline("token-classification", model=system.model, tokenizer=system.tokenizer,
                    aggregation_strategy="none", ignore_labels=[], device=-1)

    ours = system.predict(sentences)
    theirs = pipeline_word_tags(pipe, sentences, args.batch_size)
    n_tokens = sum(len(s) for s in sentences)
    agree = sum(a == b for p, q in zip(ours, theirs) for a, b in zip(p, q)) / n_tokens

    t_ours = timed(lambda: system.predict(sentences))
    t_pipe = timed(lambda: pipeline_word_tags(pipe, sentences, args.batch_size))
    print(json.dumps({
        "model": args.model, "sentences": len(sentences), "tokens": n_tokens,
        "batch_size": args.batch_size, "threads": torch.get_num_threads(),
        "harness_sentences_per_s": len(sentences) / t_ours,
        "pipeline_sentences_per_s": len(sentences) / t_pipe,
        "speedup": t_pipe / t_ours,
        "token_agreement": agree,
    }, indent=2))


if __name__ == "__main__":
    main()
