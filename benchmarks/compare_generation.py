"""LLM tagger: batched generation against one sentence at a time through
transformers' `generate`, same model, weights and sentences, in one run; also
checks that the answers are identical.

    python benchmarks/compare_generation.py --model runs/B/llm/<hash>/model \
        [--sentences 64] [--batch-sizes 16,64,128]

Each path decodes a few sentences first (warm-up, not timed).  The timings
are then interleaved over `--rounds` rounds: each round decodes every
`rounds`-th sentence one at a time, then the whole set at each batch size, so
the ratios hold on a host whose speed drifts.  The one-at-a-time time is the
sum over the rounds, the batched one the median; every batched run's answers
are compared.  Each batch size is then split into prefill and decoding (the
prompts are timed alone, with every bound one token), each with its achieved
GFLOP/s and share of the measured peak.
"""
from __future__ import annotations

import json
import statistics
import time
from dataclasses import dataclass, field

from _common import (apply_generation_args, load_llm_tagger, real_test_sentences,
                     saved_tagger_parser)


def generate_reference(system, sentences) -> list[str]:
    """One sentence at a time through transformers' `generate` (greedy, KV
    cache, the same prompts, bound and end token): what the batched decoder
    must match, and the speed it is compared with."""
    import torch

    tok, out = system.tokenizer, []
    system.model.eval()
    with torch.inference_mode(), system.weights.for_decoding() as model:
        for s in sentences:
            ids = torch.tensor([system.prompt_ids(s)], device=model.device)
            seq = model.generate(
                input_ids=ids, attention_mask=torch.ones_like(ids),
                max_new_tokens=system.max_new_tokens(s), do_sample=False, num_beams=1,
                use_cache=True, eos_token_id=tok.eos_token_id,
                pad_token_id=tok.pad_token_id)[0, ids.shape[1]:].tolist()
            if tok.eos_token_id in seq:
                seq = seq[: seq.index(tok.eos_token_id)]
            out.append(tok.decode(seq, skip_special_tokens=True))
    return out


def prefill_seconds(system, sentences, batch_size: int) -> float:
    """The batched decoder's time for the prompts alone: every bound set to
    one token, so each row stops after the prefill's first token."""
    prompts = [system.prompt_ids(s) for s in sentences]
    grammars = ([system.format.grammar(s, system.scheme) for s in sentences]
                if system.decoder.needs_grammar else [])
    with system.weights.for_decoding() as model:
        _, seconds = timed_once(lambda: system.decoder.decode(
            model, system.tokenizer, prompts, [1] * len(prompts), batch_size=batch_size,
            probes=system.probe_prompts(), grammars=grammars,
            prefill_batch_size=system.config.prefill_batch_size))
    return seconds


def roofline_rows(phase_flops: dict, t_prefill: float, t_total: float, peak: dict) -> list[dict]:
    """Achieved GFLOP/s of prefill and of decoding (the rest of the batched time)."""
    rows = []
    for phase, flops, seconds in (("prefill", phase_flops["prefill"], t_prefill),
                                  ("decoding", phase_flops["decode"], t_total - t_prefill)):
        gflops = flops / seconds / 1e9
        rows.append({"phase": phase, "seconds": round(seconds, 2), "gflops_per_s": round(gflops, 1),
                     "share_of_peak": round(gflops / peak["gflops"], 3)})
    return rows


def timed_once(fn):
    t0 = time.perf_counter()
    result = fn()
    return result, time.perf_counter() - t0


@dataclass
class Timings:
    """Each path's answers and seconds, gathered over interleaved rounds."""
    reference: list = field(default_factory=list)    # `generate`, in sentence order
    reference_s: float = 0.0
    single: list | None = None                       # the harness one sentence at a time
    single_s: float = 0.0
    batched: dict = field(default_factory=dict)      # batch size -> [(answers, seconds, flops)]


def _timed_slice(fn, sentences, part: list[int], into: list) -> float:
    """Seconds of `fn` over the sentences at `part`; its answers go there in `into`."""
    answers, seconds = timed_once(lambda: fn([sentences[i] for i in part]))
    for i, a in zip(part, answers):
        into[i] = a
    return seconds


def timed_in_rounds(system, sentences, sizes: list[int], rounds: int, single: bool) -> Timings:
    """Every path timed in `rounds` interleaved rounds: each round runs the
    one-at-a-time paths on every `rounds`-th sentence (a slice of the same
    lengths as the whole) and then each batch size on all of them, so a host
    whose speed drifts slows both sides of every ratio alike.  Unlike
    `_common.interleaved`, which repeats whole calls, the one-at-a-time
    paths are sliced: repeating them whole would take minutes each."""
    t = Timings(reference=[None] * len(sentences), single=[None] * len(sentences) if single else None)
    for r in range(rounds):
        part = list(range(r, len(sentences), rounds))
        t.reference_s += _timed_slice(lambda s: generate_reference(system, s), sentences, part,
                                      t.reference)
        if single:
            t.single_s += _timed_slice(
                lambda s: [system.generate([x], batch_size=1)[0] for x in s], sentences, part,
                t.single)
        for b in sizes:
            before = dict(system.flops_by_phase)
            answers, seconds = timed_once(lambda: system.generate(sentences, batch_size=b))
            flops = {k: v - before[k] for k, v in system.flops_by_phase.items()}
            t.batched.setdefault(b, []).append((answers, seconds, flops))
    return t


def _agreement(runs, other) -> str | None:
    """Sentences every batched run answered as `other` did, of all."""
    if other is None:
        return None
    same = sum(all(run[0][i] == a for run in runs) for i, a in enumerate(other))
    return f"{same}/{len(other)}"


def batched_row(system, sentences, batch_size: int, t: Timings, peak: dict) -> dict:
    """One generation batch: its median time over the rounds against both
    one-at-a-time paths, its agreement with them, and its prefill/decoding
    roofline."""
    runs = t.batched[batch_size]
    seconds = statistics.median(s for _, s, _ in runs)
    phase_flops = runs[0][2]
    t_prefill = prefill_seconds(system, sentences, batch_size)
    n = len(sentences)
    return {
        "batch_size": batch_size,
        "sentences_per_s": round(n / seconds, 3),
        "seconds_per_round": [round(s, 2) for _, s, _ in runs],
        "speedup_vs_generate_one_at_a_time": round(t.reference_s / seconds, 2),
        "identical_answers_vs_generate": _agreement(runs, t.reference),
        "identical_answers_vs_harness_single": _agreement(runs, t.single),
        "gflop_per_sentence": {k: round(v / n / 1e9, 3) for k, v in phase_flops.items()},
        "roofline": roofline_rows(phase_flops, t_prefill, seconds, peak),
    }


def main() -> None:
    ap = saved_tagger_parser(sentences=64, repeats=None, batch_size=False)
    ap.add_argument("--batch-sizes", default=None,
                    help="comma-separated generation batches (default: the system's eval_batch_size)")
    ap.add_argument("--decoding", default="free",
                    help="the batched decoder; `generate` is greedy and unconstrained, so only "
                         "`free` can match it answer for answer")
    ap.add_argument("--no-harness-single", action="store_true",
                    help="skip the harness's own one-at-a-time path (as slow as `generate`)")
    ap.add_argument("--rounds", type=int, default=3,
                    help="interleaved rounds: each times a share of the one-at-a-time paths and "
                         "every batch size once over all sentences (the median is reported)")
    ap.add_argument("--warmup", type=int, default=4)
    args = ap.parse_args()

    from harness.measure import roofline
    from harness.measure.provenance import git_commit, hardware
    from systems.llm.decoding.decoders import get_decoder

    system = load_llm_tagger(args.model, args)
    system.decoder = get_decoder(args.decoding)
    apply_generation_args(system, args)
    sizes = [int(b) for b in (args.batch_sizes or str(system.config.eval_batch_size)).split(",")]
    sentences, _ = real_test_sentences(args.sentences, system.scheme.name)
    warm = sentences[: args.warmup]
    generate_reference(system, warm)
    system.generate(warm, batch_size=max(sizes))

    t = timed_in_rounds(system, sentences, sizes, max(1, args.rounds), not args.no_harness_single)
    peak = roofline.peak_for(system.runtime_info())
    rows = [batched_row(system, sentences, b, t, peak) for b in sizes]
    n = len(sentences)
    print(json.dumps({
        "model": args.model, "sentences": n, "decoding": args.decoding,
        "runtime": system.runtime_info(), "hardware": hardware(), "commit": git_commit(),
        "rounds": max(1, args.rounds),
        "generate_one_at_a_time_sentences_per_s": round(n / t.reference_s, 3),
        "harness_one_at_a_time_sentences_per_s": (round(n / t.single_s, 3)
                                                   if t.single is not None else None),
        "peak": peak, "batched": rows,
        "best_batch_size": max(rows, key=lambda r: r["sentences_per_s"])["batch_size"],
    }, indent=2))


if __name__ == "__main__":
    main()
