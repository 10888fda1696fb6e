"""The grid of runs a command asks for, each point (benchmark, system,
training size, seed) an ordinary run, and the executors that run it: `local`
(one after another in this process), `slurm` (each point a job of a SLURM
cluster, `harness/run/slurm.py`) or `ray` (each point a Ray task,
`harness/run/ray_tasks.py`).  Points publish their results as they are
gathered; the reports are rebuilt from the published results."""
from __future__ import annotations

from dataclasses import dataclass, fields
from pathlib import Path
from typing import Callable

from harness.core import distributed
from harness.core.errors import ConfigError
from harness.data.benchmarks import Benchmark
from harness.core.fileio import write_json_atomic
from harness.reporting.index_page import write_reports
from harness.evaluation.results import RunResult
from harness.run.runner import RunOptions, log, plan, run_or_skip

Where = Callable[[RunOptions, Benchmark, RunResult], Path]


@dataclass(frozen=True)
class GridPoint:
    opts: RunOptions       # this point's options: its seed and training size
    bench: Benchmark
    system: str
    where: Where           # the path its result is published under
    note: str = ""         # what the log says when it starts

    def size(self) -> int | str:
        limit = self.opts.limit_for(self.system)
        return "all" if limit is None else limit

    def label(self) -> str:
        return (f"{self.bench.name}/{self.opts.label or self.system} "
                f"(size {self.size()}, seed {self.opts.seed})")


def publish(point: GridPoint, result: RunResult, skipped: dict, reports: bool = True) -> None:
    write_json_atomic(point.where(point.opts, point.bench, result), result.to_dict())
    if reports:
        write_reports(point.opts.reports_dir, point.bench, skipped)


def options_of(cls, given: dict, executor: str):
    """An executor's options dataclass from the fields given; unknown ones refused."""
    unknown = sorted(set(given) - {f.name for f in fields(cls)})
    if unknown:
        known = ", ".join(sorted(f.name for f in fields(cls)))
        raise ConfigError(f"{executor} options {unknown}; known: {known}")
    return cls(**given)


def pending(points: list[GridPoint], data, procs: int = 1) -> tuple[list, list]:
    """(points already finished, with their results; points to submit); a point
    of several processes is the run of that many (its hash records them)."""
    done, todo = [], []
    for point in points:
        plan_ = plan(point.opts, point.bench, point.system, data(point.bench), world_size=procs)
        if plan_.results_file.is_file() and not point.opts.force:
            log(f"{point.label()}: finished in {plan_.run_dir}; not submitted")
            done.append((point, RunResult.read(plan_.results_file)))
        else:
            todo.append(point)
    return done, todo


def publish_all(points: list[GridPoint], done: list, skipped: dict,
                reports_dir: Path) -> list[RunResult]:
    """Publish the finished points' results, then write each benchmark's
    reports once."""
    for point, result in done:
        publish(point, result, skipped, reports=False)
    for bench in {p.bench.name: p.bench for p in points}.values():
        write_reports(reports_dir, bench, skipped)
    return [result for _, result in done]


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
    if opts.latency_only:   # the executors skip finished points, and timing is of this machine
        raise ConfigError(f"--latency-only times a saved model on this machine: "
                          f"run it with --executor local, not {opts.executor}")
    if opts.executor == "slurm":
        from harness.run.slurm import run_slurm

        return run_slurm(points, data, runnable, skipped, opts)
    if opts.executor == "ray":
        from harness.run.ray_tasks import run_ray

        return run_ray(points, data, runnable, skipped, opts)
    raise ConfigError(f"--executor {opts.executor!r}; known: local, slurm, ray")
