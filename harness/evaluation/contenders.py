"""What makes two runs comparable: the training sentences they saw, and the
paired test between them.

Two runs saw the same training sentences when they share the data content,
the training limit and the seed: the subset is a deterministic function of
the three.  Contenders trained with several seeds are paired seed by seed (each
seed draws one subset for all of them).  A run with no training history was
not trained (zero-shot, or prompted with in-context examples).
"""
from __future__ import annotations

from collections import defaultdict

import numpy as np

from harness.evaluation import analysis
from harness.evaluation.aso import aso
from harness.evaluation.results import RunResult

PAIR_RESAMPLES = 2000   # two-sided p down to 0.001


def training_key(r: RunResult) -> tuple | None:
    """Identity of the training sentences a run saw; None for a zero-shot run."""
    if not r.history:
        return None
    return r.spec["data_fingerprint"], r.spec["train_limit"], r.seed


def training_group(r: RunResult) -> tuple | None:
    """What contenders share when, seed by seed, they saw the same training
    sentences: the data and the training limit; None for a zero-shot run."""
    key = training_key(r)
    return None if key is None else key[:2]


def same_training(a: RunResult, b: RunResult) -> str:
    """A cell for the pairwise table: do the two share their training sentences?"""
    ka, kb = training_group(a), training_group(b)
    if ka is None or kb is None:
        return "– (zero-shot)"
    if ka == kb:
        return "yes (seed by seed)" if a.seed != b.seed else "yes"
    return f"**no** ({a.train_sentences:,} vs {b.train_sentences:,})"


def training_summary(results: dict[str, RunResult]) -> str:
    """One line: which systems were trained on the same sentences, and which were not."""
    groups: dict[tuple, list[str]] = defaultdict(list)
    zero_shot = []
    for name, r in results.items():
        key = training_group(r)
        (zero_shot if key is None else groups[key]).append(name)
    parts = [f"{', '.join(names)}: {results[names[0]].train_sentences:,} sentences"
             for names in groups.values()]
    if len(groups) > 1:
        line = ("**Not like for like:** the trained systems saw different training sentences ("
                + "; ".join(parts) + "); differences between these groups mix system and data.")
    elif groups:
        names = next(iter(groups.values()))
        line = (f"Like for like: every trained system ({', '.join(names)}) saw the same "
                f"{results[names[0]].train_sentences:,} training sentences.")
    else:
        line = "No system was trained."
    if zero_shot:
        line += (f" Not trained (zero-shot, or in-context examples only): "
                 f"{', '.join(zero_shot)}.")
    return "Training data: " + line


def paired_test(a: RunResult, b: RunResult) -> dict | None:
    """Paired bootstrap of F1(a) - F1(b) over their common test sentences;
    None when they were tested on different sentences."""
    if a.test_sentences_sha256 != b.test_sentences_sha256:
        return None
    return analysis.paired_bootstrap_counts(
        np.asarray(a.sentence_counts), np.asarray(b.sentence_counts), seed=a.seed)


def seed_paired_test(a: dict[int, RunResult], b: dict[int, RunResult]) -> dict | None:
    """The seed-aware comparison of two contenders ({seed: result} each) over
    their common seeds: the two-level paired bootstrap, how many seeds agree
    on each ordering and, with two or more seeds a side, ASO's eps_min that
    the one with the higher mean F1 is better.  None when they share no seed
    or were tested on different sentences."""
    key = (_identity(a), _identity(b))
    if key not in _PAIR_CACHE:
        _PAIR_CACHE[key] = _seed_paired_test(a, b)
    return _PAIR_CACHE[key]


# A report rebuild asks for each pair twice (findings, pairwise table): tested once.
_PAIR_CACHE: dict[tuple, dict | None] = {}


def _identity(side: dict[int, RunResult]) -> tuple:
    return tuple((s, r.spec.get("digest"), r.test_sentences_sha256, r.test["f1"])
                 for s, r in sorted(side.items()))


def _paired_seeds(a: dict[int, RunResult], b: dict[int, RunResult]) -> list[int]:
    """The seeds both sides have, where every run of them met the same test
    sentences; [] when they share none or were tested on different sentences."""
    common = sorted(set(a) & set(b))
    tested_on = {r.test_sentences_sha256 for side in (a, b) for s, r in side.items() if s in common}
    return common if common and len(tested_on) == 1 else []


def type_paired_test(a: dict[int, RunResult], b: dict[int, RunResult], etype: str) -> dict | None:
    """The seed-aware paired test of one entity type's F1 over the common
    seeds; None when they share no seed and test set, or a run lacks per-type
    counts (scored before they were kept)."""
    common = _paired_seeds(a, b)
    runs = [side[s] for side in (a, b) for s in common]
    if not common or any(r.type_counts is None for r in runs):
        return None
    n = len(runs[0].sentence_counts)
    ca, cb = ([analysis.dense_type_counts(side[s].type_counts.get(etype, ""), n) for s in common]
              for side in (a, b))
    t = analysis.seed_paired_bootstrap(ca, cb, resamples=PAIR_RESAMPLES, seed=common[0])
    return t | {"common_seeds": common, "type": etype,
                "support": int(ca[0][:, 2].sum())}


def _seed_paired_test(a: dict[int, RunResult], b: dict[int, RunResult]) -> dict | None:
    common = _paired_seeds(a, b)
    if not common or any(not a[s].sentence_counts for s in common):
        return None   # no shared seed, or not one test set across the seeds
    t = analysis.seed_paired_bootstrap([np.asarray(a[s].sentence_counts) for s in common],
                                         [np.asarray(b[s].sentence_counts) for s in common],
                                         resamples=PAIR_RESAMPLES, seed=common[0])
    t |= {"common_seeds": common, "all_seeds_shared": set(a) == set(b),
          "first_ahead": sum(d > 0 for d in t["per_seed_delta"]),
          "second_ahead": sum(d < 0 for d in t["per_seed_delta"])}
    if len(a) > 1 and len(b) > 1:
        fa, fb = ([r.test["f1"] for r in side.values()] for side in (a, b))
        leader_first = np.mean(fa) >= np.mean(fb)
        t["aso"] = aso(fa, fb, seed=common[0]) if leader_first else aso(fb, fa, seed=common[0])
        t["aso"]["better"] = "first" if leader_first else "second"
    return t


def latency_hardware(r: RunResult) -> str:
    env = r.latency_measured or r.spec.get("environment", {})
    hw = env.get("hardware", {})
    return f"{hw.get('cpu', '?')}" + (f" + {hw['gpu']}" if hw.get("gpu") else "")


def hardware_summary(results: dict[str, RunResult]) -> str | None:
    """A warning when the speeds being compared were measured on different machines."""
    machines: dict[str, list[str]] = defaultdict(list)
    for name, r in results.items():
        machines[latency_hardware(r)].append(name)
    if len(machines) < 2:
        return None
    return ("**Speeds measured on different machines** (compare them within a machine only): "
            + "; ".join(f"{', '.join(names)} on {hw}" for hw, names in machines.items()) + ".")
