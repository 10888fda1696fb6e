"""The grid of runs a command asks for, each point (benchmark, system,
training size, seed) an ordinary run, and the executors that run it: `local`
(one after another in this process) or `slurm` (each point a job of a SLURM
cluster, `harness/run/slurm.py`).  Points publish their results as they
are gathered; the reports are rebuilt from the published results."""
from __future__ import annotations

from dataclasses import dataclass
from pathlib import Path
from typing import Callable

from harness.core import distributed
from harness.data.benchmarks import Benchmark
from harness.core.fileio import write_json_atomic
from harness.reporting.index_page import write_reports
from harness.evaluation.results import RunResult
from harness.run.runner import RunOptions, log, run_or_skip

Where = Callable[[RunOptions, Benchmark, RunResult], Path]


@dataclass(frozen=True)
class GridPoint:
    opts: RunOptions       # this point's options: its seed and training size
    bench: Benchmark
    system: str
    where: Where           # the path its result is published under
    note: str = ""         # what the log says when it starts

    def label(self) -> str:
        size = "all" if self.opts.limit_for(self.system) is None else self.opts.limit_for(self.system)
        return f"{self.bench.name}/{self.opts.label or self.system} (size {size}, seed {self.opts.seed})"


def publish(point: GridPoint, result: RunResult, skipped: dict, reports: bool = True) -> None:
    write_json_atomic(point.where(point.opts, point.bench, result), result.to_dict())
    if reports:
        write_reports(point.opts.reports_dir, point.bench, skipped)


def run_local(points: list[GridPoint], data, runnable: list[str],
              skipped: dict[str, str]) -> list[RunResult]:
    """Every point in order, in this process; each publishes as it ends."""
    results = []
    for point in points:
        if point.system not in runnable:   # skipped by an earlier point (its model is missing)
            continue
        if point.note:
            log(point.note)
        result = run_or_skip(point.opts, point.bench, point.system, data(point.bench),
                             runnable, skipped)
        if result is not None:
            distributed.on_main(lambda: publish(point, result, skipped))
            results.append(result)
    return results


def execute(points: list[GridPoint], data, runnable: list[str], skipped: dict[str, str],
            opts: RunOptions) -> list[RunResult]:
    if opts.executor == "local":
        return run_local(points, data, runnable, skipped)
    if opts.executor == "slurm":
        from harness.run.slurm import run_slurm

        return run_slurm(points, data, runnable, skipped, opts)
    from harness.core.errors import ConfigError

    raise ConfigError(f"--executor {opts.executor!r}; known: local, slurm")
