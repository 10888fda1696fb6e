"""Evaluation beyond the point estimate: confidence intervals, significance,
an error taxonomy and an entity-type confusion matrix.

Entity extraction here is strict IOB2, the same reading as seqeval's
``mode="strict"``: an entity opens with B-X and continues with I-X; a stray
I- opens nothing.  Per-sentence counts of (true positives, predicted, gold)
make a sentence-level bootstrap cheap.
"""
from __future__ import annotations

from collections import Counter
from typing import Sequence

import numpy as np

from harness.data.spans import lenient_spans, strict_spans


def sentence_counts(gold: Sequence[Sequence[str]], pred: Sequence[Sequence[str]]) -> np.ndarray:
    """(n_sentences, 3) array of true positives, predicted and gold entities."""
    rows = []
    for g, p in zip(gold, pred):
        gs, ps = set(strict_spans(g)), set(strict_spans(p))
        rows.append((len(gs & ps), len(ps), len(gs)))
    return np.asarray(rows, dtype=np.int64).reshape(-1, 3)


def f1_from_counts(counts: np.ndarray) -> float:
    tp, n_pred, n_gold = counts.sum(axis=0) if counts.ndim == 2 else counts
    return 0.0 if n_pred + n_gold == 0 else float(2 * tp / (n_pred + n_gold))


# Sentences drawn per chunk of resamples: the (resamples, sentences, 3) gather
# would take about 0.8 GB at the full test split's 32,908 sentences.
_DRAWS_PER_CHUNK = 1 << 21


def _resample_chunks(n: int, resamples: int, seed: int):
    """Bootstrap index arrays, `resamples` rows of `n` draws in all, a few rows
    at a time; together they equal one `integers(size=(resamples, n))` draw."""
    rng = np.random.default_rng(seed)
    rows = max(1, _DRAWS_PER_CHUNK // max(n, 1))
    for start in range(0, resamples, rows):
        yield rng.integers(0, n, size=(min(rows, resamples - start), n))


def _gathered_sums(columns: np.ndarray, idx: np.ndarray) -> np.ndarray:
    """(rows of idx, columns) sums of each column over each row's draws; one
    contiguous column at a time gathers about 9x faster than whole rows."""
    return np.stack([column[idx].sum(axis=1) for column in columns], axis=1)


def _resampled_totals(counts: np.ndarray, resamples: int, seed: int) -> np.ndarray:
    columns = np.ascontiguousarray(counts.T)
    return np.concatenate([_gathered_sums(columns, idx)   # (resamples, 3)
                           for idx in _resample_chunks(len(counts), resamples, seed)])


def _f1_rows(totals: np.ndarray) -> np.ndarray:
    denom = totals[:, 1] + totals[:, 2]
    return np.where(denom > 0, 2 * totals[:, 0] / np.maximum(denom, 1), 0.0)


def bootstrap_f1_ci(gold, pred, resamples: int = 1000, seed: int = 0) -> dict:
    """Micro F1 with a 95% percentile interval from resampling sentences."""
    counts = sentence_counts(gold, pred)
    if len(counts) == 0:
        return {"f1": 0.0, "ci95": [0.0, 0.0], "resamples": resamples, "seed": seed}
    f1s = _f1_rows(_resampled_totals(counts, resamples, seed))
    lo, hi = np.percentile(f1s, [2.5, 97.5])
    return {"f1": f1_from_counts(counts), "ci95": [float(lo), float(hi)],
            "resamples": resamples, "seed": seed}


def type_sentence_counts(gold, pred) -> tuple[list[str], np.ndarray]:
    """The entity types in gold or predictions, and a (types, 3, sentences)
    array of each type's true positives, predicted and gold entities."""
    spans = [(set(strict_spans(g)), set(strict_spans(p))) for g, p in zip(gold, pred)]
    types = sorted({t for gs, ps in spans for _, _, t in gs | ps})
    index = {t: i for i, t in enumerate(types)}
    out = np.zeros((len(types), 3, len(spans)), dtype=np.int64)
    for j, (gs, ps) in enumerate(spans):
        for span in gs & ps:
            out[index[span[2]], 0, j] += 1
        for span in ps:
            out[index[span[2]], 1, j] += 1
        for span in gs:
            out[index[span[2]], 2, j] += 1
    return types, out


def type_counts(gold, pred) -> dict[str, str]:
    """Each entity type's per-sentence counts, kept sparse and compact:
    {type: "sentence tp predicted gold;..."} over the sentences where the type
    occurs in gold or predictions (one string a type: as JSON lists, every
    number takes a line of the results file), so that two systems can be
    compared type by type with a paired test from their results alone."""
    types, counts = type_sentence_counts(gold, pred)
    out = {}
    for i, etype in enumerate(types):
        where = np.flatnonzero(counts[i].any(axis=0))
        out[etype] = ";".join(f"{j} {tp} {p} {g}" for j, (tp, p, g) in
                              zip(where.tolist(), counts[i][:, where].T.tolist()))
    return out


def dense_type_counts(rows: str, sentences: int) -> np.ndarray:
    """(sentences, 3) counts of one type from its `type_counts` string."""
    out = np.zeros((sentences, 3), dtype=np.int64)
    for row in filter(None, rows.split(";")):
        sentence, tp, predicted, gold = map(int, row.split())
        out[sentence] = (tp, predicted, gold)
    return out


def _macro_f1_rows(totals: np.ndarray) -> np.ndarray:
    """Macro F1 of (rows, types, 3) totals, over the types present in each row
    (in its gold or its predictions), as seqeval averages them."""
    denom = totals[:, :, 1] + totals[:, :, 2]
    f1 = np.where(denom > 0, 2 * totals[:, :, 0] / np.maximum(denom, 1), 0.0)
    present = denom > 0
    return np.where(present.any(axis=1), f1.sum(axis=1) / np.maximum(present.sum(axis=1), 1), 0.0)


def bootstrap_macro_f1_ci(gold, pred, resamples: int = 1000, seed: int = 0) -> dict:
    """Macro F1 with a 95% percentile interval from resampling sentences."""
    types, counts = type_sentence_counts(gold, pred)
    if not types:
        return {"macro_f1": 0.0, "ci95": [0.0, 0.0], "resamples": resamples, "seed": seed}
    full = _macro_f1_rows(counts.sum(axis=2)[None])[0]
    rows = [np.stack([_gathered_sums(counts[t], idx) for t in range(len(types))], axis=1)
            for idx in _resample_chunks(counts.shape[2], resamples, seed)]
    lo, hi = np.percentile(_macro_f1_rows(np.concatenate(rows)), [2.5, 97.5])
    return {"macro_f1": float(full), "ci95": [float(lo), float(hi)], "resamples": resamples,
            "seed": seed}


def paired_bootstrap(gold, pred_a, pred_b, resamples: int = 1000, seed: int = 0) -> dict:
    """Paired bootstrap over sentences (Berg-Kirkpatrick et al., 2012):
    two-sided p-value for 'the F1 difference is zero'."""
    return paired_bootstrap_counts(sentence_counts(gold, pred_a),
                                   sentence_counts(gold, pred_b), resamples, seed)


def paired_bootstrap_counts(ca: np.ndarray, cb: np.ndarray, resamples: int = 1000,
                            seed: int = 0) -> dict:
    """`paired_bootstrap` from per-sentence counts of the same sentences."""
    if ca.shape != cb.shape:
        raise ValueError(f"paired test needs the same sentences ({len(ca)} vs {len(cb)})")
    delta = f1_from_counts(ca) - f1_from_counts(cb)
    a, b = np.ascontiguousarray(ca.T), np.ascontiguousarray(cb.T)
    deltas = np.concatenate([_f1_rows(_gathered_sums(a, idx)) - _f1_rows(_gathered_sums(b, idx))
                             for idx in _resample_chunks(len(ca), resamples, seed)])
    if delta > 0:
        tail = np.mean(deltas <= 0)
    elif delta < 0:
        tail = np.mean(deltas >= 0)
    else:
        tail = 0.5 if np.any(deltas) else 1.0
    return {"delta_f1": float(delta), "p_value": float(min(1.0, 2 * tail)),
            "resamples": resamples, "seed": seed}


TAXONOMY = ("correct", "incorrect_type", "partial", "missed", "spurious")


def _entities(tags) -> list[dict]:
    # nervaluate's dict loader, fed the strict IOB2 spans that every score uses;
    # its `end` is inclusive.
    return [{"label": t, "start": s, "end": e - 1} for s, e, t in strict_spans(tags)]


def error_taxonomy(gold, pred) -> dict[str, int]:
    """The outcome of every gold and predicted entity, by nervaluate's rules:
    correct (same span and type), incorrect type (same span, other type),
    partial (overlapping span), missed (gold with no prediction over it) and
    spurious (prediction over no gold entity)."""
    from nervaluate import Evaluator

    types = sorted({e["label"] for doc in map(_entities, list(gold) + list(pred)) for e in doc})
    if not types:
        return {k: 0 for k in TAXONOMY}
    overall = Evaluator([_entities(g) for g in gold], [_entities(p) for p in pred],
                        tags=types, loader="dict").evaluate()["overall"]
    strict, exact, partial = overall["strict"], overall["exact"], overall["partial"]
    return {"correct": strict.correct, "incorrect_type": exact.correct - strict.correct,
            "partial": partial.partial, "missed": strict.missed, "spurious": strict.spurious}


def confusion(gold, pred, types: Sequence[str]) -> dict:
    """Entity-type confusion on exact spans; "O" stands for no entity there."""
    labels = list(types) + ["O"]
    index = {t: i for i, t in enumerate(labels)}
    m = np.zeros((len(labels), len(labels)), dtype=np.int64)
    for g, p in zip(gold, pred):
        gd = {(s, e): t for s, e, t in strict_spans(g)}
        pd = {(s, e): t for s, e, t in strict_spans(p)}
        for span in gd.keys() | pd.keys():
            m[index[gd.get(span, "O")], index[pd.get(span, "O")]] += 1
    m[-1, -1] = 0  # "no entity predicted where there is none" is not counted
    return {"labels": labels, "matrix": m.tolist()}


def word_tag_scores(tokens, gold, pred) -> dict:
    """Per-sentence precision/recall/F1 over word:tag pairs (multisets of the
    non-O tokens), averaged over sentences, as some LLM-NER write-ups report.
    A sentence with neither gold nor predicted pairs scores 1.  Not seqeval."""
    ps, rs, fs = [], [], []
    for toks, g, p in zip(tokens, gold, pred):
        gp = Counter((w, t) for w, t in zip(toks, g) if t != "O")
        pp = Counter((w, t) for w, t in zip(toks, p) if t != "O")
        hit = sum((gp & pp).values())
        n_g, n_p = sum(gp.values()), sum(pp.values())
        prec = 1.0 if n_p == 0 and n_g == 0 else (hit / n_p if n_p else 0.0)
        rec = 1.0 if n_g == 0 and n_p == 0 else (hit / n_g if n_g else 0.0)
        ps.append(prec)
        rs.append(rec)
        fs.append(0.0 if prec + rec == 0 else 2 * prec * rec / (prec + rec))
    n = max(1, len(ps))
    return {"precision": sum(ps) / n, "recall": sum(rs) / n, "f1": sum(fs) / n}


def seed_paired_bootstrap(counts_a: Sequence[np.ndarray], counts_b: Sequence[np.ndarray],
                          resamples: int = 1000, seed: int = 0) -> dict:
    """A paired bootstrap over training seeds and test sentences together.

    `counts_a[i]` and `counts_b[i]` are the per-sentence counts of the two
    systems trained with the i-th common seed (so on the same training subset),
    all on the same test sentences.  Each resample draws the seeds with
    replacement and, once, the test sentences (the test set is one sample that
    every trained model meets), and takes the mean over the drawn seeds of
    F1(a) - F1(b) on the drawn sentences.  The two-sided p-value and the 95%
    interval come from those means; with one seed this is the sentence
    bootstrap alone."""
    k = len(counts_a)
    if k == 0 or k != len(counts_b):
        raise ValueError(f"seed-paired test needs the same seeds on both sides ({k} vs {len(counts_b)})")
    shapes = {np.shape(c) for c in list(counts_a) + list(counts_b)}
    if len(shapes) != 1:
        raise ValueError(f"seed-paired test needs the same test sentences everywhere ({shapes})")
    per_seed = [f1_from_counts(np.asarray(a)) - f1_from_counts(np.asarray(b))
                for a, b in zip(counts_a, counts_b)]
    cols_a = [np.ascontiguousarray(np.asarray(c).T) for c in counts_a]
    cols_b = [np.ascontiguousarray(np.asarray(c).T) for c in counts_b]
    seed_rng = np.random.default_rng([seed, 1])
    means = []
    for idx in _resample_chunks(len(counts_a[0]), resamples, seed):
        deltas = np.stack([_f1_rows(_gathered_sums(a, idx)) - _f1_rows(_gathered_sums(b, idx))
                           for a, b in zip(cols_a, cols_b)], axis=1)       # (rows, seeds)
        drawn = seed_rng.integers(0, k, size=deltas.shape)
        means.append(np.take_along_axis(deltas, drawn, axis=1).mean(axis=1))
    means = np.concatenate(means)
    delta = float(np.mean(per_seed))
    tail = np.mean(means <= 0) if delta > 0 else np.mean(means >= 0) if delta < 0 else 0.5
    lo, hi = np.percentile(means, [2.5, 97.5])
    return {"delta_f1": delta, "ci95": [float(lo), float(hi)],
            "p_value": float(min(1.0, 2 * tail)), "seeds": k, "per_seed_delta": per_seed,
            "resamples": resamples, "seed": seed}


def holm(p_values: Sequence[float]) -> list[float]:
    """Holm's step-down adjustment of a family of p-values (in their order):
    the family-wise error stays at alpha however many tests it holds."""
    order = sorted(range(len(p_values)), key=lambda i: p_values[i])
    out, running = [0.0] * len(p_values), 0.0
    for rank, i in enumerate(order):
        running = max(running, min(1.0, (len(p_values) - rank) * p_values[i]))
        out[i] = running
    return out


def invalid_transitions(pred) -> int:
    """Tags I-X that follow neither B-X nor I-X (a sentence's first tag included):
    where strict IOB2 and conlleval read a sequence differently."""
    bad = 0
    for tags in pred:
        previous = "O"
        for tag in tags:
            if tag.startswith("I-") and previous[2:] != tag[2:]:
                bad += 1
            previous = tag
    return bad


def _span_scores(gold, pred, spans) -> dict:
    tp = n_pred = n_gold = 0
    for g, p in zip(gold, pred):
        gs, ps = set(spans(g)), set(spans(p))
        tp, n_pred, n_gold = tp + len(gs & ps), n_pred + len(ps), n_gold + len(gs)
    precision = tp / n_pred if n_pred else 0.0
    recall = tp / n_gold if n_gold else 0.0
    f1 = 2 * tp / (n_pred + n_gold) if n_pred + n_gold else 0.0
    return {"precision": precision, "recall": recall, "f1": f1}


def repairs(gold, pred) -> dict:
    """Invalid transitions in the predictions and the scores under each way
    of repairing them (SeqScore's names): `conlleval` turns a stray I-X into
    B-X (the Perl script's reading, and seqeval's default mode); `discard`
    drops the entity it would open, which is exactly the strict IOB2 reading
    every other score here uses."""
    return {"invalid_transitions": invalid_transitions(pred),
            "conlleval": _span_scores(gold, pred, lenient_spans),
            "discard": _span_scores(gold, pred, strict_spans)}
