"""LLM tagger: the decoders side by side on one saved model, timed in one run.

Every decoder (`free`, `constrained`, and `xgrammar` when installed) decodes
the same test sentences at the system's generation batch; the timings
alternate between decoders over `--repeats` rounds, and each decoder's best
round counts.  Also given: each decoder's malformed and hallucinated counts
and F1 on those sentences, and its time as a ratio to free decoding.

    python benchmarks/compare_decoders.py --model runs/B/llm/<hash>/model [--sentences 160]
"""
from __future__ import annotations

import importlib.util
import json

from _common import (apply_generation_args, decode_with, interleaved, load_llm_tagger,
                     real_test_sentences, saved_tagger_parser)


def main() -> None:
    args = saved_tagger_parser(sentences=160).parse_args()

    from harness.evaluation.metrics import score
    from harness.measure.provenance import git_commit, hardware

    system = load_llm_tagger(args.model, args)
    apply_generation_args(system, args)
    sentences, gold = real_test_sentences(args.sentences, system.scheme.name)
    names = ["free", "constrained"] + (["xgrammar"] if importlib.util.find_spec("xgrammar") else [])
    for name in names:   # warm-up on a few sentences: merge the adapter once
        decode_with(system, name, sentences[:4])
    decoded = {}
    timings = interleaved([lambda n=n: decoded.__setitem__(n, decode_with(system, n, sentences))
                           for n in names], repeats=args.repeats, warmup=False)
    best = dict(zip(names, timings))
    out = {}
    for name in names:
        out[name] = {"f1": score(gold, decoded[name]["tags"])["f1"],
                     **decoded[name]["counters"].to_dict(),
                     "sentences_per_s": len(sentences) / best[name],
                     "time_vs_free": best[name] / best["free"]}
    print(json.dumps({"model": args.model, "sentences": len(sentences),
                      "batch_size": system.config.eval_batch_size,
                      "prefill_batch_size": system.config.prefill_batch_size, "repeats": args.repeats,
                      "hardware": hardware(), "commit": git_commit(), "decoders": out}, indent=2))


if __name__ == "__main__":
    main()
