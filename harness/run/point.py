"""One grid point as a cluster job runs it (`run_point`, called by the SLURM
and Ray executors on a node), and a point of several processes inside its
allocation: ``torchrun --nproc-per-node N -m harness.run.point FILE``.
FILE holds the point (its options, benchmark and system), pickled by the
executor; every rank runs it (DDP), and the main one writes the result
beside FILE."""
from __future__ import annotations

import json
import os
import pickle
import subprocess
import sys
from pathlib import Path

from harness.core import distributed
from harness.data.benchmarks import Benchmark
from harness.evaluation.results import RunResult


def run_point(opts, bench: Benchmark, system: str, procs: int = 1) -> dict:
    """One grid point, on a node: load the data, run (or reuse) it, return its
    result; with several processes, under torchrun inside the allocation."""
    if procs > 1:
        return _run_point_distributed(opts, bench, system, procs)
    return _load_and_run(opts, bench, system).to_dict()


def _load_and_run(opts, bench: Benchmark, system: str) -> RunResult:
    from harness.core.profiles import PROFILES
    from harness.run.runner import Corpora, run_one

    data = Corpora(opts.data, PROFILES[opts.profile].hub_data)(bench)
    return run_one(opts, bench, system, data)


def _run_point_distributed(opts, bench: Benchmark, system: str, procs: int) -> dict:
    from harness.run.runner import log

    folder = Path(opts.runs_dir).resolve() / ".slurm" / os.environ.get("SLURM_JOB_ID", "local")
    folder.mkdir(parents=True, exist_ok=True)
    point_file = folder / f"point-{bench.name}-{system}-{opts.seed}.pkl"
    point_file.write_bytes(pickle.dumps((opts, bench, system)))
    cmd = [sys.executable, "-m", "torch.distributed.run", "--standalone",
           "--nproc-per-node", str(procs), "-m", "harness.run.point", str(point_file)]
    log(f"{bench.name}/{system}: {' '.join(cmd[1:])}")
    subprocess.run(cmd, check=True)
    return json.loads(result_file(point_file).read_text())


def result_file(point_file: Path) -> Path:
    return Path(point_file).with_suffix(".result.json")


def main(argv: list[str]) -> int:
    point_file = Path(argv[0])
    opts, bench, system = pickle.loads(point_file.read_bytes())
    result = _load_and_run(opts, bench, system)
    if distributed.is_main():
        result_file(point_file).write_text(json.dumps(result.to_dict()))
    return 0


if __name__ == "__main__":
    sys.exit(main(sys.argv[1:]))
