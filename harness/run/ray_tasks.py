"""The grid on Ray: each point not yet finished is one `ray.remote` task
asking for its CPUs and GPUs, at most `max_jobs` in flight; this process
waits, publishes what finished, names the log of what failed, and rebuilds
the reports once.

Ray is started on this machine unless `address` names a running cluster
("auto" for the one this machine belongs to).  Each task runs in the
driver's working directory, writes its output to its own log under
`<runs>/.ray/<job id>/`, and records its Ray job, node and task in the
run's provenance (`provenance.scheduler`)."""
from __future__ import annotations

import contextlib
import os
import sys
from dataclasses import dataclass
from pathlib import Path

from harness.core.errors import ConfigError
from harness.evaluation.results import RunResult
from harness.run.grid import GridPoint, options_of, pending, publish_all
from harness.run.runner import RunOptions, log


@dataclass(frozen=True)
class RayOptions:
    address: str | None = None   # a running cluster; None starts Ray on this machine
    cpus: float = 1.0            # per point
    gpus: float = 0.0            # per point
    max_jobs: int | None = None  # points in flight at once; None: as many as resources allow

    @classmethod
    def of(cls, given: dict) -> "RayOptions":
        return options_of(cls, given, "ray")


def run_logged(opts: RunOptions, bench, system: str, cwd: str, log_path: str) -> dict:
    """One point inside a Ray worker, in the driver's working directory, its
    output (both streams, the C level included) in its own log file."""
    from harness.run.slurm import run_point

    os.chdir(cwd)
    with open(log_path, "ab", buffering=0) as out, _streams_to(out.fileno()):
        return run_point(opts, bench, system)


@contextlib.contextmanager
def _streams_to(fd: int):
    """Point file descriptors 1 and 2 at `fd` (libraries' C-level output
    too), and back afterwards: a Ray worker runs many tasks."""
    for stream in (sys.stdout, sys.stderr):
        stream.flush()
    saved = [os.dup(1), os.dup(2)]
    os.dup2(fd, 1)
    os.dup2(fd, 2)
    try:
        yield
    finally:
        for stream in (sys.stdout, sys.stderr):
            stream.flush()
        for target, copy in zip((1, 2), saved):
            os.dup2(copy, target)
            os.close(copy)


def _ray():
    try:
        import ray
    except ImportError:
        raise ConfigError("--executor ray needs ray: pip install ray") from None
    return ray


def _start(ray, options: RayOptions) -> bool:
    """Connect to Ray (or start it here); True when this call started it."""
    if ray.is_initialized():
        return False
    ray.init(address=options.address, include_dashboard=False, log_to_driver=False,
             configure_logging=False)
    where = f"cluster at {options.address}" if options.address else "started on this machine"
    have = ray.cluster_resources()
    log(f"Ray {ray.__version__}: {where} ({have.get('CPU', 0):g} CPUs, "
        f"{have.get('GPU', 0):g} GPUs)")
    return True


def _log_path(folder: Path, point: GridPoint) -> Path:
    size = point.opts.limit_for(point.system) or "all"
    name = f"{point.bench.name}-{point.opts.label or point.system}-{size}-{point.opts.seed}.log"
    return folder / name


def _run_tasks(ray, todo: list[GridPoint], options: RayOptions, folder: Path) -> list:
    """Submit the points (at most max_jobs in flight), and gather each as it
    ends; a failure is named with its log, and the others go on."""
    task = ray.remote(num_cpus=options.cpus, num_gpus=options.gpus)(run_logged)
    cap = options.max_jobs or len(todo)
    queue, flight, out = list(todo), {}, []
    while queue or flight:
        while queue and len(flight) < cap:
            point = queue.pop(0)
            logfile = _log_path(folder, point)
            flight[task.remote(point.opts, point.bench, point.system, os.getcwd(),
                               str(logfile))] = (point, logfile)
        ready, _ = ray.wait(list(flight), num_returns=1)
        point, logfile = flight.pop(ready[0])
        try:
            result = RunResult.from_dict(ray.get(ready[0]), f"Ray task of {point.label()}")
            out.append((point, result))
            log(f"{point.label()}: finished")
        except Exception as err:   # one failed point does not stop the others
            lines = [line for line in str(err).strip().splitlines() if line.strip()]
            log(f"{point.label()}: FAILED ({lines[-1] if lines else type(err).__name__}); "
                f"log: {logfile}")
    return out


def run_ray(points, data, runnable: list[str], skipped: dict[str, str],
            opts: RunOptions) -> list[RunResult]:
    options = RayOptions.of(opts.executor_options)
    done, todo = pending(points, data)
    if todo:
        ray = _ray()
        started = _start(ray, options)
        try:
            folder = Path(opts.runs_dir).resolve() / ".ray" / ray.get_runtime_context().get_job_id()
            folder.mkdir(parents=True, exist_ok=True)
            log(f"submitting {len(todo)} point(s) as Ray tasks ({options.cpus:g} CPU, "
                f"{options.gpus:g} GPU each); logs in {folder}")
            done += _run_tasks(ray, todo, options, folder)
        finally:
            if started:
                ray.shutdown()
    return publish_all(points, done, skipped, opts.reports_dir)
