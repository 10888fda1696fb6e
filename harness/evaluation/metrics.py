"""Entity-level scores with seqeval (strict IOB2), per type, and token accuracy."""
from __future__ import annotations

import warnings
from typing import Sequence

from harness.core.errors import LengthMismatchError

Tags = Sequence[Sequence[str]]


def check_aligned(gold: Tags, pred: Tags) -> None:
    if len(gold) != len(pred):
        raise LengthMismatchError(
            f"{len(gold)} gold sentences but {len(pred)} predicted sentences")
    for i, (g, p) in enumerate(zip(gold, pred)):
        if len(g) != len(p):
            raise LengthMismatchError(
                f"sentence {i}: {len(g)} gold tags but {len(p)} predicted tags")


def token_accuracy(gold: Tags, pred: Tags) -> float:
    total = sum(len(g) for g in gold)
    if total == 0:
        return 0.0
    return sum(a == b for g, p in zip(gold, pred) for a, b in zip(g, p)) / total


def score(gold: Tags, pred: Tags) -> dict:
    """seqeval entity-level scores in strict IOB2 mode.

    Strict mode counts an entity only when its span *and* its B-/I- shape
    match; a span that starts with I- is not an entity at all.  This is the
    stricter of seqeval's two modes, and the one that treats a BIO tagger and
    a generative tagger alike.
    """
    from seqeval.metrics import classification_report
    from seqeval.scheme import IOB2

    check_aligned(gold, pred)
    gold = [list(s) for s in gold]
    pred = [list(s) for s in pred]
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")  # undefined-metric warnings for absent types
        report = classification_report(
            gold, pred, mode="strict", scheme=IOB2, output_dict=True, zero_division=0)
    per_type = {
        etype: {
            "precision": float(v["precision"]),
            "recall": float(v["recall"]),
            "f1": float(v["f1-score"]),
            "support": int(v["support"]),
        }
        for etype, v in sorted(report.items()) if not etype.endswith(" avg")
    }
    micro = report.get("micro avg", {})
    macro = report.get("macro avg", {})
    return {
        "precision": float(micro.get("precision", 0.0)),
        "recall": float(micro.get("recall", 0.0)),
        "f1": float(micro.get("f1-score", 0.0)),
        "macro_precision": float(macro.get("precision", 0.0)),
        "macro_recall": float(macro.get("recall", 0.0)),
        "macro_f1": float(macro.get("f1-score", 0.0)),
        "accuracy": token_accuracy(gold, pred),
        "support": int(micro.get("support", 0)),
        "sentences": len(gold),
        "tokens": sum(len(g) for g in gold),
        "per_type": per_type,
    }
