"""The grid on a SLURM cluster, through submitit: each point not yet
finished is one task of a job array (at most `max_jobs` running at once),
run by `run_point` on a node; this process waits, publishes what finished,
names the log of what failed, and rebuilds the reports once.

Job logs go under `<runs>/.slurm/<job id>/`; a run records the job's SLURM
variables in its provenance (`provenance.scheduler`).  A point of several
processes (`procs`) runs as ``torchrun --nproc-per-node N`` inside
its job's allocation (`harness.run.point`)."""
from __future__ import annotations

import os
from dataclasses import dataclass
from pathlib import Path

from harness.core.errors import ConfigError
from harness.evaluation.results import RunResult
from harness.measure.contention import DRIVER_VARIABLE
from harness.run.grid import options_of, pending, publish_all
from harness.run.point import run_point
from harness.run.runner import RunOptions, log


@dataclass(frozen=True)
class SlurmOptions:
    partition: str | None = None
    gpus: int = 0              # per job
    cpus: int = 2              # per job
    minutes: int = 120         # time limit per job
    mem_gb: float | None = None
    max_jobs: int = 4          # array tasks running at once
    procs: int = 1             # processes per point (above 1: under torchrun, DDP)

    @classmethod
    def of(cls, given: dict) -> "SlurmOptions":
        return options_of(cls, given, "slurm")


def _executor(o: SlurmOptions, folder: Path):
    try:
        import submitit
    except ImportError:
        raise ConfigError("--executor slurm needs submitit: pip install submitit") from None
    ex = submitit.AutoExecutor(folder=str(folder / "%j"), cluster="slurm")
    params = {"slurm_partition": o.partition, "cpus_per_task": o.cpus, "timeout_min": o.minutes,
              "mem_gb": o.mem_gb, "gpus_per_node": o.gpus or None,
              "slurm_array_parallelism": o.max_jobs, "name": "ner-harness",
              "slurm_setup": [f"export {DRIVER_VARIABLE}={os.getpid()}"]}
    ex.update_parameters(**{k: v for k, v in params.items() if v is not None})
    return ex


def _queued() -> set[str] | None:
    """Ids of the jobs SLURM still holds (array tasks one by one); None when
    squeue cannot say."""
    import subprocess

    try:
        out = subprocess.run(["squeue", "-h", "-r", "-o", "%i"], capture_output=True, text=True,
                             timeout=60)
    except (OSError, subprocess.TimeoutExpired):
        return None
    return set(out.stdout.split()) if out.returncode == 0 else None


def _wait(jobs, poll: float = 2.0, grace: int = 3) -> dict[str, str]:
    """Wait until every job has written its result (or its error), or has
    left the queue without one; {job id: why} of the latter.  A job killed
    with scancel, by the OOM killer or at its time limit writes nothing, and
    where the cluster keeps no accounting submitit would wait for it forever."""
    import time

    waiting, gone, lost = {job.job_id: job for job in jobs}, {}, {}
    while waiting:
        queued = _queued()
        for job_id, job in list(waiting.items()):
            if job.paths.result_pickle.exists():
                del waiting[job_id]
            elif queued is not None and job_id not in queued:
                gone[job_id] = gone.get(job_id, 0) + 1
                if gone[job_id] >= grace:   # left the queue a while ago, and no result
                    del waiting[job_id]
                    lost[job_id] = ("the job ended without a result: cancelled (scancel), "
                                    "killed or out of time")
        if waiting:
            time.sleep(poll)
    return lost


def _gather(todo, jobs) -> list:
    """The results of the jobs that ended well; each failure named with its log."""
    lost = _wait(jobs)
    out = []
    for point, job in zip(todo, jobs):
        if job.job_id in lost:
            log(f"{point.label()}: job {job.job_id} FAILED ({lost[job.job_id]}); "
                f"log: {job.paths.stderr}")
            continue
        try:
            out.append((point, RunResult.from_dict(job.result(), f"job {job.job_id}")))
            log(f"{point.label()}: job {job.job_id} finished")
        except Exception as err:   # one failed point does not stop the others
            message = str(err).strip().splitlines()
            log(f"{point.label()}: job {job.job_id} FAILED ({message[-1] if message else err}); "
                f"log: {job.paths.stderr}")
    return out


def run_slurm(points, data, runnable: list[str], skipped: dict[str, str],
              opts: RunOptions) -> list[RunResult]:
    options = SlurmOptions.of(opts.executor_options)
    done, todo = pending(points, data, options.procs)
    if todo:
        ex = _executor(options, Path(opts.runs_dir).resolve() / ".slurm")
        jobs = ex.map_array(run_point, [p.opts for p in todo], [p.bench for p in todo],
                            [p.system for p in todo], [options.procs] * len(todo))
        log(f"submitted {len(jobs)} point(s) as SLURM job array {jobs[0].job_id.split('_')[0]}; "
            f"waiting")
        done += _gather(todo, jobs)
    return publish_all(points, done, skipped, opts.reports_dir)
