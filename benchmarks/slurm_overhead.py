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


def submit_to_start(jobcomp: Path) -> list[float]:
    """Seconds from submission to start of every job in the completion log."""
    out = []
    for line in jobcomp.read_text().splitlines():
        f = dict(re.findall(r"(\w+)=(\S+)", line))
        if "SubmitTime" in f and "StartTime" in f:
            t = [datetime.fromisoformat(f[k]) for k in ("SubmitTime", "StartTime")]
            out.append((t[1] - t[0]).total_seconds())
    return out


def scancel_demo(env: dict, data: str, out: Path, slurm: list[str]) -> None:
    args = curve(data, out, "cancel", "150", slurm + ["--systems", "spacy-trained"])
    proc = subprocess.Popen([sys.executable, "-m", "harness", *args], cwd=ROOT, env=env,
                            stderr=subprocess.PIPE, text=True)
    victim = None
    while victim is None and proc.poll() is None:
        running = subprocess.run(["squeue", "-h", "-t", "R", "-o", "%i"], env=env,
                                 capture_output=True, text=True).stdout.split()
        victim = running[0] if running else None
        time.sleep(0.5)
    subprocess.run(["scancel", victim], env=env, check=True)
    print(f"scancel {victim}")
    err = proc.communicate()[1]
    print("\n".join(line for line in err.splitlines() if "FAILED" in line or "finished" in line))
    again = harness(args, env)
    print("\n".join(line for line in again.stderr.splitlines()
                    if "submitted" in line or "FAILED" in line))


def main() -> int:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--data", required=True)
    args = ap.parse_args()
    folder = Path(tempfile.mkdtemp(prefix="slurm-overhead-"))
    env, stop = slurm_cluster.start(folder / "cluster")
    if env is None:
        print(f"SLURM could not start: {stop}")
        return 1
    env = dict(env, OMP_NUM_THREADS="1", HF_HUB_OFFLINE="1")
    slurm = ["--executor", "slurm", "--slurm-cpus", "1", "--slurm-time", "30",
             "--slurm-max-jobs", "2"]
    try:
        queue, done = [], threading.Event()
        watcher = threading.Thread(target=watch_queue, args=(env, queue, done))
        watcher.start()
        t0 = time.perf_counter()
        on_slurm = harness(curve(args.data, folder, "slurm", "100,200", slurm), env)
        slurm_s = time.perf_counter() - t0
        done.set()
        watcher.join()
        print(f"slurm: rc {on_slurm.returncode}, {slurm_s:.0f} s")
        print("\n".join(l for l in on_slurm.stderr.splitlines() if "submitted" in l or "job" in l))
        print("squeue while running:\n" + "\n--\n".join(queue))
        t0 = time.perf_counter()
        local = harness(curve(args.data, folder, "local", "100,200", []), env)
        print(f"local: rc {local.returncode}, {time.perf_counter() - t0:.0f} s")
        a, b = metrics(folder / "reports-slurm"), metrics(folder / "reports-local")
        print(f"{len(a)} points; identical P/R/F1 at every point: {a == b}")
        for key in a:
            print(f"  {key}: slurm {a[key]}  local {b.get(key)}")
        waits = submit_to_start(folder / "cluster" / "jobcomp.txt")
        print(f"submission to start, {len(waits)} jobs: " + ", ".join(f"{w:.0f}" for w in waits)
              + " s (one-second resolution; tasks beyond --slurm-max-jobs wait for a slot)")
        scancel_demo(env, args.data, folder, slurm)
    finally:
        slurm_cluster.shutdown(stop)
    return 0


if __name__ == "__main__":
    sys.exit(main())
