"""The grid on Ray: each point not yet finished is one `ray.remote` task
asking for its CPUs and GPUs, at most `max_jobs` in flight; this process
waits, publishes what finished, names the log of what failed, and rebuilds
the reports once.

Ray finds its cluster as `ray.init` does: `address` where given, else
$RAY_ADDRESS or a cluster started on this machine with `ray start`, else it
starts one here.  Each task runs in the driver's working directory with the
driver's HARNESS_* and HF_* variables, writes its output (and a failure's
traceback) to its own log under `<runs>/.ray/<time>-<job id>/`, and records
its Ray job, node and task in the run's provenance (`provenance.scheduler`)."""
from __future__ import annotations

import contextlib
import os
import sys
import time
import traceback
from dataclasses import dataclass
from pathlib import Path

from harness.core.errors import ConfigError
from harness.evaluation.results import RunResult
from harness.measure.contention import DRIVER_VARIABLE
from harness.run.grid import GridPoint, options_of, pending, publish_all
from harness.run.runner import RunOptions, log

# What a task takes from the driver's environment: on another node its own
# environment would name other data, caches or hub settings.
PASSED_ON = ("HARNESS_", "HF_", "TRANSFORMERS_", "TOKENIZERS_")


@dataclass(frozen=True)
class RayOptions:
    address: str | None = None   # a running cluster; None: as ray.init() finds or starts one
    cpus: float = 1.0            # per point
    gpus: float = 0.0            # per point
    max_jobs: int | None = None  # points in flight at once; None: as many as resources allow

    @classmethod
    def of(cls, given: dict) -> "RayOptions":
        return options_of(cls, given, "ray")


def run_logged(opts: RunOptions, bench, system: str, cwd: str, log_path: str) -> dict:
    """One point inside a Ray worker, in the driver's working directory, its
    output (both streams, the C level included) and any traceback in its own
    log file.  A point given no GPU sees none (Ray shows it every GPU)."""
    import ray

    from harness.run.point import run_point

    if not ray.get_runtime_context().get_accelerator_ids().get("GPU"):
        os.environ["CUDA_VISIBLE_DEVICES"] = ""
    with open(log_path, "ab", buffering=0) as out, _streams_to(out.fileno()), _inside(cwd):
        try:
            return run_point(opts, bench, system)
        except BaseException:
            traceback.print_exc()
            raise


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


@contextlib.contextmanager
def _inside(folder: str):
    before = os.getcwd()
    os.chdir(folder)
    try:
        yield
    finally:
        os.chdir(before)


def _ray():
    try:
        import ray
    except ImportError:
        raise ConfigError("--executor ray needs ray: pip install ray") from None
    return ray


def _start(ray, options: RayOptions) -> bool:
    """Connect to Ray (or start it here); True when this call did."""
    if ray.is_initialized():
        return False
    env = {k: v for k, v in os.environ.items() if k.startswith(PASSED_ON)}
    env[DRIVER_VARIABLE] = str(os.getpid())
    try:
        ray.init(address=options.address, include_dashboard=False, log_to_driver=False,
                 configure_logging=False, runtime_env={"env_vars": env})
    except (ConnectionError, RuntimeError) as err:
        raise ConfigError(f"--ray-address {options.address or '(none)'}: "
                          f"no Ray cluster there ({str(err).strip().splitlines()[-1]})") from None
    have = ray.cluster_resources()
    log(f"Ray {ray.__version__} at {ray.get_runtime_context().gcs_address} "
        f"({have.get('CPU', 0):g} CPUs, {have.get('GPU', 0):g} GPUs)")
    return True


def _check_fits(ray, options: RayOptions) -> None:
    """Refuse a request no node can meet: Ray would hold such a task forever."""
    nodes = [n["Resources"] for n in ray.nodes() if n.get("Alive")]
    if not any(n.get("CPU", 0) >= options.cpus and n.get("GPU", 0) >= options.gpus
               for n in nodes):
        largest = max(nodes, key=lambda n: (n.get("GPU", 0), n.get("CPU", 0)), default={})
        raise ConfigError(f"no Ray node has {options.cpus:g} CPUs and {options.gpus:g} GPUs "
                          f"for a point (the largest: {largest.get('CPU', 0):g} CPUs, "
                          f"{largest.get('GPU', 0):g} GPUs); lower --ray-cpus/--ray-gpus")


def _log_path(folder: Path, point: GridPoint) -> Path:
    name = f"{point.bench.name}-{point.opts.label or point.system}-{point.size()}-{point.opts.seed}"
    return folder / f"{name}.log"


def _gathered(ray, ref, point: GridPoint, logfile: Path) -> RunResult | None:
    """The result of one ended task; a failure is named with its log."""
    try:
        result = RunResult.from_dict(ray.get(ref), f"Ray task of {point.label()}")
    except Exception as err:   # one failed point does not stop the others
        lines = [line for line in str(err).strip().splitlines() if line.strip()]
        log(f"{point.label()}: FAILED ({lines[-1] if lines else type(err).__name__}); "
            f"log: {logfile}")
        return None
    log(f"{point.label()}: finished")
    return result


def _run_tasks(ray, todo: list[GridPoint], options: RayOptions, folder: Path) -> list:
    """Submit the points, at most max_jobs in flight, each tried once (Ray
    would rerun a point whose worker died), and gather each as it ends."""
    task = ray.remote(num_cpus=options.cpus, num_gpus=options.gpus, max_retries=0)(run_logged)
    cap = options.max_jobs or len(todo)
    queue, flight, out = list(todo), {}, []
    while queue or flight:
        while queue and len(flight) < cap:
            point = queue.pop(0)
            logfile = _log_path(folder, point)
            ref = task.remote(point.opts, point.bench, point.system, os.getcwd(), str(logfile))
            flight[ref] = (point, logfile)
        ready, _ = ray.wait(list(flight), num_returns=1)
        point, logfile = flight.pop(ready[0])
        result = _gathered(ray, ready[0], point, logfile)
        if result is not None:
            out.append((point, result))
    return out


def run_ray(points, data, runnable: list[str], skipped: dict[str, str],
            opts: RunOptions) -> list[RunResult]:
    options = RayOptions.of(opts.executor_options)
    done, todo = pending(points, data)
    if todo:
        ray = _ray()
        started = _start(ray, options)
        try:
            _check_fits(ray, options)
            job = f"{time.strftime('%Y%m%d-%H%M%S')}-{ray.get_runtime_context().get_job_id()}"
            folder = Path(opts.runs_dir).resolve() / ".ray" / job
            folder.mkdir(parents=True, exist_ok=True)
            log(f"submitting {len(todo)} point(s) as Ray tasks ({options.cpus:g} CPU, "
                f"{options.gpus:g} GPU each); logs in {folder}")
            done += _run_tasks(ray, todo, options, folder)
        finally:
            if started:
                ray.shutdown()
    return publish_all(points, done, skipped, opts.reports_dir)
