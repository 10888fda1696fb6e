"""The typed record of one finished (benchmark, system) run.

The runner's stages fill it, `results.json` and the report folder store it,
and the reports and the gate read it.  Its JSON form is a flat object whose
keys are the field names, in this order; optional fields that are unset are
left out, and keys this version does not know are kept as they were.
"""
from __future__ import annotations

import dataclasses
import json
from dataclasses import dataclass, field
from pathlib import Path

from harness.core.errors import DataError


@dataclass
class Analysis:
    """Everything a reviewer asks of a test split beyond P/R/F1."""

    test_f1_bootstrap: dict
    error_taxonomy: dict
    confusion: dict
    word_tag: dict
    test_sentences_sha256: str
    sentence_counts: list  # per sentence: true positives, predicted, gold
    macro_f1_bootstrap: dict | None = None
    repairs: dict | None = None   # invalid transitions, conlleval and discard scores
    type_counts: dict | None = None   # per type, sparse per-sentence counts (analysis.type_counts)


@dataclass
class RunResult:
    benchmark: str
    system: str
    description: str
    spec: dict                  # the frozen RunSpec, as written to spec.json
    run_dir: str
    command: str
    history: list[dict]
    test: dict                  # seqeval scores (metrics.score)
    test_f1_bootstrap: dict
    error_taxonomy: dict
    confusion: dict
    word_tag: dict
    test_sentences_sha256: str
    sentence_counts: list
    latency: list[dict]
    prediction_stats: dict      # the system's Counters, as a dict ({} if it has none)
    runtime: dict
    timing: dict
    data: dict
    notes: list[str]
    macro_f1_bootstrap: dict | None = None  # absent in results scored before it existed
    repairs: dict | None = None
    type_counts: dict | None = None        # absent in results scored before it existed
    latency_measured: dict | None = None   # environment of a later --latency-only
    scored: dict | None = None             # when the saved predictions were re-scored
    training: dict | None = None   # where and beside what the model trained (training.json)
    extra: dict = field(default_factory=dict)

    @property
    def seed(self) -> int:
        return self.spec["seed"]

    @property
    def train_sentences(self) -> int:
        return self.data["sentences"]["train"]

    def with_analysis(self, test: dict, analysis: Analysis) -> "RunResult":
        return dataclasses.replace(self, test=test, **dataclasses.asdict(analysis))

    def to_dict(self) -> dict:
        out = {f.name: getattr(self, f.name) for f in dataclasses.fields(self)
               if f.name != "extra"}
        for key in ("macro_f1_bootstrap", "repairs", "type_counts", "latency_measured", "scored",
                    "training"):
            if out[key] is None:
                del out[key]
        return out | self.extra

    @classmethod
    def from_dict(cls, d: dict, where: str = "result") -> "RunResult":
        names = {f.name for f in dataclasses.fields(cls)} - {"extra"}
        required = {f.name for f in dataclasses.fields(cls)
                    if f.default is dataclasses.MISSING and f.default_factory is dataclasses.MISSING}
        missing = sorted(required - set(d))
        if missing:
            raise DataError(f"{where}: not a finished run result (missing {', '.join(missing)})")
        known = {k: v for k, v in d.items() if k in names}
        return cls(**known, extra={k: v for k, v in d.items() if k not in names})

    @classmethod
    def read(cls, path: Path) -> "RunResult":
        try:
            return cls.from_dict(json.loads(Path(path).read_text()), str(path))
        except json.JSONDecodeError as err:
            raise DataError(f"{path}:{err.lineno}: not valid JSON ({err.msg})") from None

