"""Where a command's time went: one row per run it made, stage by stage."""
from __future__ import annotations

from tabulate import tabulate

from harness.evaluation.results import RunResult

STAGES = ("training", "validation", "prediction", "latency")


def stage_seconds(r: RunResult) -> dict[str, float | None]:
    """Seconds per stage; training without its per-epoch validation, and
    None where the stage did not run here (a reused model) or is not timed."""
    t = r.timing or {}
    train, val = t.get("train_seconds"), t.get("validation_seconds")
    return {"training": None if train is None else train - (val or 0.0),
            "validation": val, "prediction": t.get("predict_seconds"),
            "latency": t.get("latency_seconds")}


def _cell(seconds: float | None) -> str:
    return "–" if seconds is None else f"{seconds:.0f}"


def stage_table(results: dict[str, RunResult]) -> str:
    """Seconds per stage for each run, its total, and a total row."""
    rows, totals = [], dict.fromkeys(STAGES, 0.0)
    for name, r in results.items():
        s = stage_seconds(r)
        for k, v in s.items():
            totals[k] += v or 0.0
        n = (r.timing or {}).get("predict_sentences")
        rows.append([name, *(_cell(s[k]) for k in STAGES), n if n is not None else "–",
                     _cell(sum(v or 0.0 for v in s.values()))])
    if len(rows) > 1:
        rows.append(["all", *(_cell(totals[k]) for k in STAGES), "",
                     _cell(sum(totals.values()))])
    return tabulate(rows, headers=["run", "training s", "validation s", "prediction s",
                                   "latency s", "test sentences", "total s"],
                    tablefmt="github", disable_numparse=True)
