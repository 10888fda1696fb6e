"""Per-type F1 of every contender side by side: which types each one learns,
with each type's gold support, macro F1 with its bootstrap interval, and the
types a contender never predicts marked as such."""
from __future__ import annotations

from itertools import combinations

from harness.evaluation import contenders
from harness.evaluation.aggregates import mean_interval
from harness.evaluation.analysis import holm
from harness.reporting.published import Seeded, representative
from harness.evaluation.results import RunResult

NEVER = "never predicted"


def predicted_by_type(r: RunResult) -> dict[str, int]:
    """Predicted entities of each type (the confusion matrix's column sums:
    every predicted span is counted once, against its gold type or O)."""
    conf = r.confusion
    if not conf:
        return {}
    labels, matrix = conf["labels"], conf["matrix"]
    return {t: sum(row[j] for row in matrix) for j, t in enumerate(labels) if t != "O"}


def _cell(seeded: Seeded, etype: str) -> str:
    f1s = [r.test["per_type"].get(etype, {}).get("f1", 0.0) for r in seeded.values()]
    predicted = sum(predicted_by_type(r).get(etype, 0) for r in seeded.values())
    if predicted == 0 and all(r.confusion for r in seeded.values()):
        return NEVER
    return f"{sum(f1s) / len(f1s):.3f}"


def _macro_cell(seeded: Seeded) -> str:
    """Mean macro F1 with a 95% interval: over seeds (t) where they differ, as
    the micro F1's; else over test sentences (bootstrap) of the one run."""
    values = [r.test["macro_f1"] for r in seeded.values()]
    macro = sum(values) / len(values)
    if len(set(values)) > 1:
        low, high = mean_interval(values)
        return f"{macro:.3f} [{low:.3f}, {high:.3f}] (seeds)"
    boot = representative(seeded).macro_f1_bootstrap
    if boot:
        return f"{macro:.3f} [{boot['ci95'][0]:.3f}, {boot['ci95'][1]:.3f}] (sentences)"
    return (f"{macro:.3f} (no interval: scored before it was recorded; "
            f"`report --rescore` adds it where the run folder remains)")


def support(seeded: dict[str, Seeded], types) -> dict[str, int]:
    """Gold entities of each type in the test split (the same for every contender)."""
    out: dict[str, int] = {}
    for s in seeded.values():
        for t, v in representative(s).test["per_type"].items():
            out[t] = max(out.get(t, 0), v["support"])
    return {t: out.get(t, 0) for t in types}


def comparison_rows(seeded: dict[str, Seeded], types, order: list[str]) -> tuple[list, list]:
    """(headers, rows): a row per type, most frequent first, a column per
    contender; then micro and macro F1 (macro with its 95% interval: over
    seeds where there are several, else over the test sentences)."""
    gold = support(seeded, types)
    rows = [[t, f"{gold[t]:,}"] + [_cell(seeded[n], t) for n in order]
            for t in sorted(types, key=lambda t: (-gold[t], t))]
    rows.append(["micro F1", ""] + [
        f"{sum(r.test['f1'] for r in seeded[n].values()) / len(seeded[n]):.3f}" for n in order])
    rows.append(["macro F1 [95% CI]", ""] + [_macro_cell(seeded[n]) for n in order])
    return ["type", "gold"] + order, rows


def never_predicted(seeded: dict[str, Seeded], types) -> dict[str, list[str]]:
    """{contender: the types it predicts in none of its seeds' test sentences}."""
    out = {}
    for name, s in seeded.items():
        if all(r.confusion for r in s.values()):
            missing = [t for t in types
                       if not any(predicted_by_type(r).get(t, 0) for r in s.values())]
            if missing:
                out[name] = missing
    return out


def tested_pairs(mains: dict[str, Seeded]) -> list[tuple[str, str]]:
    """Pairs of main contenders that, seed by seed, saw the same training
    sentences: the ones whose per-type differences are system, not data."""
    group = {n: contenders.training_group(representative(s)) for n, s in mains.items()}
    return [(a, b) for a, b in combinations(sorted(mains), 2)
            if group[a] is not None and group[a] == group[b]]


def type_differences(seeded: dict[str, Seeded], pairs: list[tuple[str, str]], types) -> list[dict]:
    """For each pair, the seed-aware paired test of the F1 of each type with
    gold support (fixed before any result is seen; a type only predicted has
    F1 0 on both sides), Holm-adjusted over the pair's types.  A pair whose
    runs lack per-type counts is left out (`untested` names it)."""
    out = []
    for a, b in pairs:
        gold = support({a: seeded[a], b: seeded[b]}, types)   # the pair's one test set
        tests = [t for etype in types if gold[etype] > 0
                 and (t := contenders.type_paired_test(seeded[a], seeded[b], etype)) is not None]
        # 2000 resamples cannot show a two-sided p below 2/(B+1): no zero enters Holm.
        floored = [max(t["p_value"], 2 / (t["resamples"] + 1)) for t in tests]
        for t, adjusted in zip(tests, holm(floored)):
            out.append({"first": a, "second": b, **t, "p_holm": adjusted})
    return out


def untested(diffs: list[dict], pairs: list[tuple[str, str]]) -> list[tuple[str, str]]:
    """The pairs that got no per-type test (a run scored before the counts were kept)."""
    tested = {(d["first"], d["second"]) for d in diffs}
    return [pair for pair in pairs if pair not in tested]
