"""LLM tagger on a 4-bit (nf4) base: decoding with the adapter beside the
4-bit layers, as trained, against decoding from a dequantized copy of each
layer with the adapter folded in (`quantized_decoding`), one saved model,
timed in one run.

    python benchmarks/compare_quantized_decoding.py --model runs/B/llm/<hash>/model \
        [--sentences 128] [--repeats 2]

The saved model is loaded twice with its base in nf4 (whatever it was saved
with), once per way.  Both decode the same test sentences at the system's
generation batch, the timings alternating over `--repeats` rounds, the best
round counting.  Given for each: sentences/s, F1 on those sentences, the
parser's counters, and the answers the two ways share; for the folded copy,
the memory its dequantized weights take.
"""
from __future__ import annotations

import json

from _common import (apply_generation_args, decode_with, interleaved, load_llm_tagger,
                     real_test_sentences, saved_tagger_parser)

WAYS = ("beside", "dequantized")


def main() -> None:
    args = saved_tagger_parser(sentences=128).parse_args()
    args.quantization = args.quantization or "nf4"

    from harness.evaluation.metrics import score
    from harness.measure.provenance import git_commit, hardware
    from systems.llm.decoding.folding import folded_bytes

    systems = {}
    for way in WAYS:
        args.quantized_decoding = way
        systems[way] = load_llm_tagger(args.model, args)
        apply_generation_args(systems[way], args)
    first = systems[WAYS[0]]
    sentences, gold = real_test_sentences(args.sentences, first.scheme.name)
    for system in systems.values():   # warm-up: the fold happens once, here
        decode_with(system, system.decoder, sentences[:4])
    decoded = {}
    timings = interleaved([lambda w=w: decoded.__setitem__(w, decode_with(
        systems[w], systems[w].decoder, sentences)) for w in WAYS],
        repeats=args.repeats, warmup=False)
    best = dict(zip(WAYS, timings))
    same = sum(a == b for a, b in zip(*(decoded[w]["answers"] for w in WAYS)))
    out = {w: {"f1": score(gold, decoded[w]["tags"])["f1"], **decoded[w]["counters"].to_dict(),
               "sentences_per_s": len(sentences) / best[w], "lora": systems[w].weights.describe()}
           for w in WAYS}
    out["dequantized"]["folded_weights_mib"] = round(
        folded_bytes(systems["dequantized"].weights.folded) / 2 ** 20, 1)
    print(json.dumps({
        "model": args.model, "sentences": len(sentences), "quantization": args.quantization,
        "runtime": first.runtime_info(), "repeats": args.repeats, "hardware": hardware(),
        "commit": git_commit(), "ways": out,
        "speedup_dequantized_vs_beside": best["beside"] / best["dequantized"],
        "identical_answers": f"{same}/{len(sentences)}"}, indent=2, default=str))


if __name__ == "__main__":
    main()
