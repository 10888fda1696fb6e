"""The predictions file: one JSON object per test sentence, written by the
runner and read back by the runner (re-scoring), `score` and the tests.

Each line has ``tokens``, ``pred`` (one scheme tag per token) and, where the
harness wrote it, ``gold``; a generative system adds its raw ``answer`` and
the parser's ``problems``.
"""
from __future__ import annotations

import json
from dataclasses import dataclass, field
from pathlib import Path
from typing import Sequence

from harness.data.corpus import text_lines
from harness.core.errors import DataError
from harness.core.fileio import write_jsonl_atomic
from harness.core.labels import LabelScheme

RELATIVE_PATH = Path("predictions") / "test.jsonl"


@dataclass
class PredictionRow:
    tokens: list[str]
    pred: list[str]
    gold: list[str] | None = None
    extra: dict = field(default_factory=dict)


def write_predictions(path: Path, tokens: Sequence, gold: Sequence, pred: Sequence,
                      raw: Sequence[dict] | None = None) -> None:
    raw = raw or [{}] * len(pred)
    write_jsonl_atomic(path, ({"tokens": t, "gold": g, "pred": p, **r}
                              for t, g, p, r in zip(tokens, gold, pred, raw)))


def _check_row(path: Path, lineno: int, rec, scheme: LabelScheme | None) -> PredictionRow:
    if not isinstance(rec, dict):
        raise DataError(f"{path}:{lineno}: expected a JSON object")
    for key in ("tokens", "pred"):
        if not isinstance(rec.get(key), list):
            raise DataError(f"{path}:{lineno}: missing or non-list field '{key}'")
    tokens, pred = rec.pop("tokens"), rec.pop("pred")
    if len(tokens) != len(pred):
        raise DataError(f"{path}:{lineno}: fields 'tokens' and 'pred' differ in length "
                        f"({len(tokens)} vs {len(pred)})")
    for i, tag in enumerate(pred if scheme is not None else ()):
        if tag not in scheme.label2id:
            raise DataError(f"{path}:{lineno}: field 'pred'[{i}]: tag {tag!r} is not in "
                            f"scheme {scheme.name} ({', '.join(scheme.types)})")
    return PredictionRow(tokens, pred, rec.pop("gold", None), rec)


def read_predictions(path: Path, scheme: LabelScheme | None = None) -> list[PredictionRow]:
    """Every row, checked; with `scheme`, every predicted tag must belong to it."""
    path = Path(path)
    rows = []
    for lineno, line in text_lines(path):
        if not line.strip():
            continue
        try:
            rec = json.loads(line)
        except json.JSONDecodeError as err:
            raise DataError(f"{path}:{lineno}: not valid JSON ({err.msg}); predictions are read "
                            f"as JSONL (one object a line with 'tokens' and 'pred') or as a "
                            f"sentence|gold|predicted CSV (.csv, .tsv, .psv)") from None
        rows.append(_check_row(path, lineno, rec, scheme))
    if not rows:
        raise DataError(f"{path}: empty file: no predictions")
    return rows
