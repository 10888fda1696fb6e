"""What makes two runs comparable: the training sentences they saw, and the
paired test between them.

Two runs saw the same training sentences when they share the data content,
the training limit and the seed: the subset is a deterministic function of
the three.  A run with no training history was not trained (zero-shot, or
prompted with in-context examples).
"""
from __future__ import annotations

from collections import defaultdict

import numpy as np

from . import evaluation
from .results import RunResult


def training_key(r: RunResult) -> tuple | None:
    """Identity of the training sentences a run saw; None for a zero-shot run."""
    if not r.history:
        return None
    return r.spec["data_fingerprint"], r.spec["train_limit"], r.seed


def same_training(a: RunResult, b: RunResult) -> str:
    """A cell for the pairwise table: do the two share their training sentences?"""
    ka, kb = training_key(a), training_key(b)
    if ka is None or kb is None:
        return "– (zero-shot)"
    if ka == kb:
        return "yes"
    return f"**no** ({a.train_sentences:,} vs {b.train_sentences:,})"


def training_summary(results: dict[str, RunResult]) -> str:
    """One line: which systems were trained on the same sentences, and which were not."""
    groups: dict[tuple, list[str]] = defaultdict(list)
    zero_shot = []
    for name, r in results.items():
        key = training_key(r)
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
    return evaluation.paired_bootstrap_counts(
        np.asarray(a.sentence_counts), np.asarray(b.sentence_counts), seed=a.seed)


def curve_sizes(curve: dict[str, dict[int, RunResult]]) -> list[int]:
    """Every training size any system reached, ascending."""
    return sorted({n for points in curve.values() for n in points})


def curve_rows(curve: dict[str, dict[int, RunResult]]) -> tuple[list[str], list[list]]:
    """Headers and rows of the curve table: F1 [95% CI] of each system at each size."""
    systems = list(curve)
    rows = []
    for n in curve_sizes(curve):
        row = [f"{n:,}"]
        for name in systems:
            r = curve[name].get(n)
            ci = r.test_f1_bootstrap["ci95"] if r else None
            row.append(f"{r.test['f1']:.4f} [{ci[0]:.4f}, {ci[1]:.4f}]" if r else "–")
        rows.append(row)
    return ["training sentences"] + [f"{s} F1 [95% CI]" for s in systems], rows


def curve_pair_rows(curve: dict[str, dict[int, RunResult]]) -> list[list]:
    """At each size both systems reached: F1 difference and paired p-value."""
    systems, rows = list(curve), []
    for n in curve_sizes(curve):
        for i, a in enumerate(systems):
            for b in systems[i + 1:]:
                ra, rb = curve[a].get(n), curve[b].get(n)
                if ra is None or rb is None:
                    continue
                t = paired_test(ra, rb)
                rows.append([f"{n:,}", a, b] + (
                    [f"{t['delta_f1']:+.4f}", f"{t['p_value']:.4f}"] if t
                    else ["–", "different test sentences"]))
    return rows


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
