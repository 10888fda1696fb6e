"""What produced a number: package versions, hardware, git commit."""
from __future__ import annotations

import functools
import os
import platform
import subprocess
import sys
from datetime import datetime, timezone
from importlib import metadata
from pathlib import Path

# What the core itself runs on; each system adds the packages it declares.
CORE_PACKAGES = ("datasets", "seqeval", "nervaluate", "tabulate", "numpy")


def package_versions(packages: tuple[str, ...] = ()) -> dict[str, str]:
    versions = {}
    for name in dict.fromkeys(packages + CORE_PACKAGES):
        try:
            versions[name] = metadata.version(name)
        except metadata.PackageNotFoundError:
            versions[name] = "not installed"
    return versions


def _cpu_model() -> str:
    try:
        for line in Path("/proc/cpuinfo").read_text().splitlines():
            if line.startswith("model name"):
                return line.split(":", 1)[1].strip()
    except OSError:
        pass
    return platform.processor() or "unknown"


def _memory_gib() -> float | None:
    try:
        for line in Path("/proc/meminfo").read_text().splitlines():
            if line.startswith("MemTotal"):
                return round(int(line.split()[1]) / 2**20, 1)
    except OSError:
        pass
    return None


def hardware() -> dict:
    info = {
        "platform": platform.platform(),
        "python": platform.python_version(),
        "cpu": _cpu_model(),
        "cpu_count": os.cpu_count(),
        "memory_gib": _memory_gib(),
        "gpu": None,
    }
    try:
        import torch

        info["torch_threads"] = torch.get_num_threads()
        if torch.cuda.is_available():
            info["gpu"] = torch.cuda.get_device_name(0)
    except ImportError:
        pass
    return info


@functools.lru_cache(maxsize=None)
def git_commit(cwd: Path | None = None) -> str:
    """HEAD (with -dirty) as first read in this process: the code a long run
    executes is what was checked out when it started, not at a later commit."""
    def git(*args: str) -> str:
        return subprocess.run(["git", *args], cwd=cwd, capture_output=True, text=True,
                              check=True, timeout=10).stdout.strip()
    try:
        commit = git("rev-parse", "HEAD")
        dirty = bool(git("status", "--porcelain", "--untracked-files=no"))
        return commit + ("-dirty" if dirty else "")
    except (OSError, subprocess.SubprocessError):
        # An exported tree (git archive, a copy on another machine) has no
        # .git; its producer can declare the commit it was exported from.
        declared = os.environ.get("NER_HARNESS_COMMIT")
        return f"{declared} (declared, no git checkout)" if declared else "unknown"


REPO_ROOT = Path(__file__).resolve().parents[2]


def now_utc() -> str:
    return datetime.now(timezone.utc).isoformat(timespec="seconds")


def environment(packages: tuple[str, ...] = ()) -> dict:
    """When, from which commit, with which versions of the core's packages and
    of `packages` (what the system declares), and on which hardware."""
    out = {
        "created": now_utc(),
        "git_commit": git_commit(REPO_ROOT),
        "packages": package_versions(packages),
        "hardware": hardware(),
    }
    where = scheduler()
    return out | ({"scheduler": where} if where else {})


SLURM_VARIABLES = ("SLURM_JOB_ID", "SLURM_ARRAY_JOB_ID", "SLURM_ARRAY_TASK_ID", "SLURM_JOB_NAME",
                   "SLURM_JOB_PARTITION", "SLURM_JOB_NODELIST", "SLURM_CPUS_PER_TASK",
                   "SLURM_MEM_PER_NODE", "SLURM_JOB_GPUS", "SLURM_CLUSTER_NAME")


def scheduler() -> dict:
    """The SLURM job this process runs in, if any (its variables as the job
    sees them), and the Ray task it runs in, if any."""
    slurm = {k: os.environ[k] for k in SLURM_VARIABLES if k in os.environ}
    return slurm | ray_task()


def ray_task() -> dict:
    """The Ray job, node and task of this process, when it is a Ray worker."""
    ray = sys.modules.get("ray")
    if ray is None or not ray.is_initialized():
        return {}
    context = ray.get_runtime_context()
    if context.worker.mode != ray.WORKER_MODE:
        return {}
    return {"RAY_ADDRESS": context.gcs_address, "RAY_JOB_ID": context.get_job_id(),
            "RAY_NODE_ID": context.get_node_id(), "RAY_TASK_ID": context.get_task_id(),
            "RAY_RESOURCES": context.get_assigned_resources()}
