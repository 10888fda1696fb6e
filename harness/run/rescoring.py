"""Published results brought up to the current metric code (`report
--rescore`): each is scored again from the saved predictions in its run
folder, as a reused run is; training, predictions and latency stay as they
were.  A result whose run folder is gone, or holds another run, is kept and
named."""
from __future__ import annotations

import json
from pathlib import Path

from harness.core.fileio import write_json_atomic
from harness.data.benchmarks import Benchmark
from harness.data.predictions import RELATIVE_PATH
from harness.evaluation.results import RunResult
from harness.run import runlock
from harness.run.runner import log, rescore


def why_not(result: RunResult) -> str | None:
    """Why this published result cannot be scored again from its run folder."""
    run_dir = Path(result.run_dir)
    if not (run_dir / RELATIVE_PATH).is_file():
        return f"no saved predictions in {run_dir.resolve()}"
    try:
        spec = json.loads((run_dir / "spec.json").read_text())
    except (OSError, json.JSONDecodeError) as err:
        return f"{run_dir / 'spec.json'} unreadable ({err})"
    if spec.get("digest") != result.spec.get("digest"):
        return f"{run_dir} holds run {spec.get('digest')}, not {result.spec.get('digest')}"
    return None


def rescore_published(reports_dir: Path, bench: Benchmark) -> tuple[int, list[str]]:
    """(results scored again, 'file: why' for each one kept as it was)."""
    done, kept = 0, []
    for path in sorted((Path(reports_dir) / "results" / bench.name).rglob("*.json")):
        result = RunResult.read(path)
        reason = why_not(result)
        if reason:
            kept.append(f"{path}: {reason}")
            continue
        with runlock.holding(Path(result.run_dir), log):
            again = rescore(result, Path(result.run_dir), bench.scheme)
        # Per-sentence counts tell the predictions apart: a folder run again
        # (--force) under the same spec holds another run's.
        if (again.test_sentences_sha256 != result.test_sentences_sha256
                or again.sentence_counts != result.sentence_counts):
            kept.append(f"{path}: the saved predictions in {result.run_dir} are not the "
                        f"published run's (run again since?)")
            continue
        if abs(again.test["f1"] - result.test["f1"]) > 1e-9:   # same predictions, new metric code
            log(f"{path}: test F1 {result.test['f1']:.4f} -> {again.test['f1']:.4f} "
                f"with the current metric code")
        write_json_atomic(path, again.to_dict())
        done += 1
    return done, kept
