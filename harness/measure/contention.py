"""Who else is using the machine: other harness processes, and the load.

Two torch jobs on two cores slow each other several-fold, so a speed or a
training time measured beside another busy harness process is not the
system's own. One Watch records what ran beside a stage, for training and for
each latency row alike, and the reports flag it."""
from __future__ import annotations

import os
import time
from pathlib import Path

from harness.core import distributed


# Set by the SLURM and Ray executors for their points: the command that
# submitted them waits without computing, so it shares nothing with them.
DRIVER_VARIABLE = "HARNESS_DRIVER_PID"


def _is_harness(argv: list[str]) -> bool:
    """A `python -m harness ...` or `ner-harness` command line, or a Ray
    worker running a point (Ray names the process after its task)."""
    names = [a.rsplit("/", 1)[-1] for a in argv]
    return "ner-harness" in names[:2] or argv[0].startswith("ray::run_logged") or any(
        a == "-m" and b in ("harness", "harness.run.point") for a, b in zip(argv, argv[1:]))


def _processes() -> dict[int, tuple[int, list[str]]]:
    """{pid: (parent pid, argv)} of the running processes this one can see.
    Without /proc none can be seen, which is not the same as none running:
    that raises, and the watch counts a failed sample."""
    out = {}
    if not Path("/proc").is_dir():
        raise OSError("/proc is not readable here: other processes cannot be seen")
    for entry in Path("/proc").iterdir():
        if not entry.name.isdigit():
            continue
        try:
            stat = (entry / "stat").read_text()
            argv = (entry / "cmdline").read_bytes().decode(errors="replace").split("\0")
        except OSError:
            continue
        state, ppid = stat.rsplit(")", 1)[1].split()[:2]
        if state not in ("T", "t", "Z"):   # a stopped (SIGSTOP) or dead process takes no CPU
            out[int(entry.name)] = (int(ppid), argv)
    return out


def _descendants(root: int, procs: dict) -> set[int]:
    found, frontier = {root}, [root]
    while frontier:
        parent = frontier.pop()
        children = [pid for pid, (ppid, _) in procs.items() if ppid == parent and pid not in found]
        found.update(children)
        frontier += children
    return found


def other_harness_processes() -> list[int]:
    """Process ids of the other harness commands running on this machine: not
    this process, the one that started it, its own workers, the command that
    submitted it to a cluster, nor, under torchrun, the other ranks of the
    same run."""
    procs = _processes()
    parent = os.getppid()
    ours = _descendants(os.getpid(), procs) | {parent}
    if os.environ.get(DRIVER_VARIABLE, "").isdigit():
        ours.add(int(os.environ[DRIVER_VARIABLE]))
    launcher = " ".join(procs.get(parent, (0, []))[1])
    # The other ranks of this run are the launcher's children, whatever the
    # launcher is called (torchrun, python -m torch.distributed.run, accelerate launch).
    if distributed.world_size() > 1 or "torch.distributed" in launcher or "torchrun" in launcher:
        ours |= _descendants(parent, procs)
    return sorted(pid for pid, (_, argv) in procs.items() if pid not in ours and _is_harness(argv))


def snapshot() -> dict:
    """What shares the machine now: other harness processes, and the 1-minute
    load average against the CPUs this process may use."""
    load = os.getloadavg()[0] if hasattr(os, "getloadavg") else None
    cpus = len(os.sched_getaffinity(0)) if hasattr(os, "sched_getaffinity") else os.cpu_count()
    return {"other_harness_processes": other_harness_processes(), "load_1min": load,
            "cpus": cpus}


# Others' mean CPU use (in cores) over a stage above which its seconds are
# flagged: a command waiting on a run lock, or a short `report`, stays below.
BUSY_CORES = 0.1


TICK = os.sysconf("SC_CLK_TCK") if hasattr(os, "sysconf") else 100   # /proc's time unit


def _cpu_seconds(pids: list[int]) -> dict[int, tuple[float, float]]:
    """{pid: (user plus system CPU seconds used so far, start in seconds since
    boot)} of each process still there."""
    out = {}
    for pid in pids:
        try:
            fields = Path(f"/proc/{pid}/stat").read_text().rsplit(")", 1)[1].split()
        except OSError:
            continue
        out[pid] = ((int(fields[11]) + int(fields[12])) / TICK,   # utime, stime
                    int(fields[19]) / TICK)                        # starttime
    return out


def _since_boot() -> float:
    """Seconds since boot on the clock of /proc/<pid>/stat's start time
    (/proc/uptime can be a container's own uptime)."""
    if hasattr(time, "CLOCK_BOOTTIME"):
        return time.clock_gettime(time.CLOCK_BOOTTIME)
    return float(Path("/proc/uptime").read_text().split()[0])


class Watch:
    """Who shared the machine while a stage ran: the other harness processes
    and the load at the start, every `interval` seconds (a daemon thread) and
    at the end, and the CPU time those processes used meanwhile.

    Training seconds measured beside a busy harness process overstate a
    system's cost as much as such a latency row understates its speed."""

    def __init__(self, interval: float = 30.0):
        import threading

        self.interval = interval
        self.samples: list[dict] = []
        self.errors = 0
        self._cpu: dict[int, float] = {}     # last CPU seconds seen of each other process
        self._booted_at: float | None = None   # the last sample's time since boot
        self.others_cpu_seconds = 0.0
        # A process gone by the next sample used an unknown share of the
        # interval after it was last seen: at most one core of it.
        self.unseen_seconds = 0.0
        self.stalled_seconds = 0.0
        self._last: tuple[float, float] | None = None   # (clock, own CPU) as the last sample ended
        self._stop = threading.Event()
        self._thread = threading.Thread(target=self._sample_until_stopped, daemon=True,
                                        name="contention-watch")

    def _stalled_for(self, end: float, cpu: float) -> float:
        """Seconds this process was stopped (SIGSTOP) or starved since the last
        sample ended: the wait and this sample together overran the interval
        by more than an interval while the process ran for less than half of
        the overrun. Measured to this sample's end, so that a stop landing
        while /proc is read counts too (a thread that waits for the GIL
        behind busy work can spend most of its time there). A call that held
        the GIL also delays the sample, but its process computed all along."""
        if self._last is None:
            return 0.0
        late = end - self._last[0] - self.interval
        return late if late > self.interval and cpu - self._last[1] < late / 2 else 0.0

    def _sample(self) -> None:
        """One sample; a failure is counted, never raised (a stage outlives its watch)."""
        at = time.monotonic()
        try:
            sample = snapshot() | {"time": at}
            now, booted = _cpu_seconds(sample["other_harness_processes"]), _since_boot()
        except Exception:   # noqa: BLE001 - /proc races, a process gone mid-read
            sample = None
            self.errors += 1
        end, cpu = time.monotonic(), time.process_time()
        stalled = self._stalled_for(end, cpu)
        self.stalled_seconds += stalled
        if sample is not None:
            if not stalled:   # what others used while this one was stopped is not beside it
                self._add_use(now, at)
            self._cpu, self._booted_at = {pid: used for pid, (used, _) in now.items()}, booted
            self.samples.append(sample)
        self._last = (end, cpu)

    def _add_use(self, now: dict[int, tuple[float, float]], at: float) -> None:
        """Others' CPU seconds since the last sample: all of a process's that
        started since (a short row would miss it otherwise)."""
        for pid, (cpu, started) in now.items():
            if pid in self._cpu:
                self.others_cpu_seconds += max(0.0, cpu - self._cpu[pid])
            elif self._booted_at is not None and started + 1 / TICK > self._booted_at:
                self.others_cpu_seconds += cpu
        if self.samples:
            gone = len(set(self._cpu) - set(now))
            self.unseen_seconds += gone * (at - self.samples[-1]["time"])

    def _sample_until_stopped(self) -> None:
        while not self._stop.wait(self.interval):
            self._sample()

    def __enter__(self) -> "Watch":
        self._sample()
        self._thread.start()
        return self

    def __exit__(self, *exc) -> None:
        self._stop.set()
        self._thread.join()
        self._sample()

    def summary(self) -> dict:
        shared_samples = [s for s in self.samples if s["other_harness_processes"]]
        loads = [s["load_1min"] for s in self.samples if s["load_1min"] is not None]
        span = (self.samples[-1]["time"] - self.samples[0]["time"] - self.stalled_seconds
                if self.samples else 0.0)
        per_core = (lambda seconds: round(seconds / span, 3) if span > 0 else 0.0)
        return {
            "samples": len(self.samples),
            "samples_beside": len(shared_samples),
            "interval_s": self.interval,
            "other_harness_processes": sorted(
                {pid for s in self.samples for pid in s["other_harness_processes"]}),
            "others_cpu_seconds": round(self.others_cpu_seconds, 1),
            "others_mean_cores": per_core(self.others_cpu_seconds),
            "others_unseen_seconds": round(self.unseen_seconds, 1),
            "others_mean_cores_bound": per_core(self.others_cpu_seconds + self.unseen_seconds),
            "load_1min_mean": sum(loads) / len(loads) if loads else None,
            "cpus": self.samples[0]["cpus"] if self.samples else None,
            "stalled_seconds": round(self.stalled_seconds, 1),
            "sampling_errors": self.errors,
        }


def busy_beside(seen: dict | None) -> bool:
    """May other harness processes have used, on average, BUSY_CORES or more
    of the machine while this stage ran? `seen` is a Watch summary (counting
    a departed process's unseen last interval as one core), or an early
    record that kept only who was there (then presence counts)."""
    seen = seen or {}
    if "others_mean_cores" not in seen:
        return bool(seen.get("other_harness_processes"))
    return seen.get("others_mean_cores_bound", seen["others_mean_cores"]) >= BUSY_CORES


def cores_used(seen: dict) -> str | None:
    """Others' mean CPU use in words, where it was measured."""
    if "others_mean_cores" not in seen:
        return None
    text = f"{seen['others_mean_cores']:.2f} cores on average"
    bound = seen.get("others_mean_cores_bound", seen["others_mean_cores"])
    if bound - seen["others_mean_cores"] >= 0.005:
        text += f" (up to {bound:.2f}, counting processes that ended between samples)"
    return text


def unwatched(seen: dict | None) -> bool:
    """Did a watch run but read fewer than the two samples that others' CPU use
    is measured between (/proc unreadable, say)?  Then what shared the machine
    is not known: not "alone".  Every watch samples at a stage's start and end,
    so only failed samples leave fewer."""
    return bool(seen) and "samples" in seen and seen["samples"] < 2


def trained_beside(training: dict | None) -> bool:
    """Was this run's model trained beside busy harness processes?"""
    return busy_beside((training or {}).get("contention"))


def training_unwatched(training: dict | None) -> bool:
    return unwatched((training or {}).get("contention"))


def shared(row: dict) -> bool:
    """Was this latency row timed beside busy harness processes?"""
    return busy_beside(row.get("contention"))


def stalled(row: dict) -> float:
    """Seconds the timing process was stopped or starved while this latency
    row was measured: its batch seconds include them."""
    return (row.get("contention") or {}).get("stalled_seconds") or 0.0


def training_threads(training: dict | None) -> int | None:
    """The torch threads of the process that trained, where recorded."""
    return (training or {}).get("environment", {}).get("hardware", {}).get("torch_threads")
