"""LLM tagger: batched generation against one sentence at a time, same
model and sentences, in one run; also checks that the answers are identical.

    python benchmarks/compare_generation.py --model runs/B/llm/<hash>/model [--sentences 64]
"""
from __future__ import annotations

import argparse
import json

from _common import real_test_sentences, timed


def main() -> None:
    ap = argparse.ArgumentParser()
    ap.add_argument("--model", required=True, help="a saved llm system folder (runs/.../model)")
    ap.add_argument("--sentences", type=int, default=64)
    ap.add_argument("--batch-size", type=int, default=16)
    args = ap.parse_args()

    from systems.llm_tagger import LLMTagger

    system = LLMTagger.load(args.model)
    sentences, _ = real_test_sentences(args.sentences, system.scheme.name)
    batched = system.generate(sentences, batch_size=args.batch_size)
    single = [system.generate([s], batch_size=1)[0] for s in sentences]
    same = sum(a == b for a, b in zip(batched, single))
    t_batched = timed(lambda: system.generate(sentences, batch_size=args.batch_size), repeats=1)
    t_single = timed(lambda: [system.generate([s], batch_size=1) for s in sentences], repeats=1)
    print(json.dumps({
        "model": args.model, "sentences": len(sentences), "batch_size": args.batch_size,
        "batched_sentences_per_s": len(sentences) / t_batched,
        "one_at_a_time_sentences_per_s": len(sentences) / t_single,
        "speedup": t_single / t_batched,
        "identical_answers": f"{same}/{len(sentences)}",
    }, indent=2))


if __name__ == "__main__":
    main()
