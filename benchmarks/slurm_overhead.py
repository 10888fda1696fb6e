"""The SLURM executor on a real one-node cluster (started here, as the tests
start it): a small learning curve on SLURM and locally, their metrics side by
side, the queue while the jobs run, the time SLURM adds per job (submission to
start, from the cluster's job-completion log), and a point killed with
`scancel`, then the rerun that submits only that point.

    python benchmarks/slurm_overhead.py --data ../shared/data/multinerd-en-subset

Run as root on a machine with slurm-wlm and munge installed (.ci/run installs them)."""
from __future__ import annotations

import argparse
import json
import re
import subprocess
import sys
import tempfile
import threading
import time
from datetime import datetime
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT / "tests"))
import slurm_cluster  # noqa: E402


def harness(args: list[str], env: dict) -> subprocess.CompletedProcess:
    return subprocess.run([sys.executable, "-m", "harness", *args], cwd=ROOT, env=env,
                          capture_output=True, text=True)


def watch_queue(env: dict, lines: list[str], stop: threading.Event) -> None:
    while not stop.is_set():
        out = subprocess.run(["squeue", "-h", "-o", "%i %j %T %R"], env=env,
                             capture_output=True, text=True).stdout.strip()
        if out and (not lines or lines[-1] != out):
            lines.append(out)
        time.sleep(1)


def curve(data: str, out: Path, name: str, sizes: str, extra: list[str]) -> list[str]:
    return ["curve", "--systems", "bert,spacy-trained", "--benchmark", "B", "--profile",
            "offline", "--data", data, "--sizes", sizes, "--seeds", "2", "--latency-batches", "3",
            "--reports", str(out / f"reports-{name}"), "--runs", str(out / f"runs-{name}"), *extra]


def metrics(reports: Path) -> dict:
    rows = {}
    for path in sorted((reports / "results" / "B" / "curve").rglob("*.json")):
        test = json.loads(path.read_text())["test"]
        rows[str(path.relative_to(reports / "results" / "B" / "curve"))] = (
            round(test["precision"], 6), round(test["recall"], 6), round(test["f1"], 6))
    return rows


def job_times(jobcomp: Path) -> list[tuple[datetime, datetime, datetime]]:
    """(submitted, started, ended) of every job in the completion log."""
    out = []
    for line in jobcomp.read_text().splitlines():
        f = dict(re.findall(r"(\w+)=(\S+)", line))
        if {"SubmitTime", "StartTime", "EndTime"} <= f.keys():
            out.append(tuple(datetime.fromisoformat(f[k])
                             for k in ("SubmitTime", "StartTime", "EndTime")))
    return sorted(out, key=lambda t: t[1])


def dispatch_delays(times, slots: int) -> list[float]:
    """Seconds from when each job could start (submitted, and a slot free: the
    end of the job `slots` places before it) to when it started."""
    ends = sorted(t[2] for t in times)
    return [(start - max([submitted] + ends[:max(0, k - slots + 1)][-1:])).total_seconds()
            for k, (submitted, start, _) in enumerate(times)]


def scancel_demo(env: dict, data: str, out: Path, slurm: list[str]) -> None:
    """A point whose job is killed with scancel while it trains, then the rerun."""
    args = ["run", "--systems", "bert,spacy-trained", "--benchmark", "B", "--profile", "offline",
            "--data", data, "--limit", "600", "--latency-batches", "3",
            "--reports", str(out / "reports-cancel"), "--runs", str(out / "runs-cancel"), *slurm]
    proc = subprocess.Popen([sys.executable, "-m", "harness", *args], cwd=ROOT, env=env,
                            stderr=subprocess.PIPE, text=True)
    victim = None
    while victim is None and proc.poll() is None:   # the bert point, once it has run 10 s
        rows = subprocess.run(["squeue", "-h", "-t", "R", "-o", "%i %M"], env=env,
                              capture_output=True, text=True).stdout.split("\n")
        running = [r.split() for r in rows if r.strip()]
        victim = next((i for i, m in running if i.endswith("_0") and m >= "0:10"), None)
        time.sleep(0.5)
    subprocess.run(["scancel", victim], env=env, check=True)
    print(f"scancel {victim}")
    err = proc.communicate()[1]
    print("\n".join(line for line in err.splitlines() if "FAILED" in line or "finished" in line))
    again = harness(args, env)
    print("rerun: " + "\n".join(line for line in again.stderr.splitlines()
                               if "submitted" in line or "FAILED" in line))


def compare_curves(env: dict, data: str, folder: Path, slurm: list[str]) -> None:
    queue, done = [], threading.Event()
    watcher = threading.Thread(target=watch_queue, args=(env, queue, done))
    watcher.start()
    t0 = time.perf_counter()
    on_slurm = harness(curve(data, folder, "slurm", "100,200", slurm), env)
    slurm_s = time.perf_counter() - t0
    done.set()
    watcher.join()
    print(f"slurm: rc {on_slurm.returncode}, {slurm_s:.0f} s")
    print("\n".join(l for l in on_slurm.stderr.splitlines() if "submitted" in l or "job" in l))
    print("squeue while running:\n" + "\n--\n".join(queue))
    t0 = time.perf_counter()
    local = harness(curve(data, folder, "local", "100,200", []), env)
    print(f"local: rc {local.returncode}, {time.perf_counter() - t0:.0f} s")
    a, b = metrics(folder / "reports-slurm"), metrics(folder / "reports-local")
    print(f"{len(a)} points; identical P/R/F1 at every point: {a == b}")
    for key in a:
        print(f"  {key}: slurm {a[key]}  local {b.get(key)}")


def main() -> int:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--data", required=True)
    ap.add_argument("--steps", default="curve,scancel", help="curve, scancel or both")
    args = ap.parse_args()
    folder = Path(tempfile.mkdtemp(prefix="slurm-overhead-"))
    env, stop = slurm_cluster.start(folder / "cluster")
    if env is None:
        print(f"SLURM could not start: {stop}")
        return 1
    env = dict(env, OMP_NUM_THREADS="1", HF_HUB_OFFLINE="1")
    slots = 2
    slurm = ["--executor", "slurm", "--slurm-cpus", "1", "--slurm-time", "30",
             "--slurm-max-jobs", str(slots)]
    try:
        if "curve" in args.steps:
            compare_curves(env, args.data, folder, slurm)
            times = job_times(folder / "cluster" / "jobcomp.txt")
            print(f"submission to start, {len(times)} jobs: " + ", ".join(
                f"{(s - q).total_seconds():.0f}" for q, s, _ in times) + " s")
            print("start once it could start (submitted and a slot free): " + ", ".join(
                f"{d:.0f}" for d in dispatch_delays(times, slots)) + " s (1 s resolution)")
        if "scancel" in args.steps:
            scancel_demo(env, args.data, folder, slurm)
    finally:
        slurm_cluster.shutdown(stop)
    return 0


if __name__ == "__main__":
    sys.exit(main())
