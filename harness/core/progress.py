"""Progress of long work: a bar on a terminal, and in a log file a line at
each tenth of the work with the elapsed time and an estimate of what is left."""
from __future__ import annotations

import os
import sys
import time
from typing import Iterable, Iterator

from tqdm.auto import tqdm

from harness.core import distributed


def progress_enabled() -> bool:
    """Whether to draw bars: on a terminal, or when HARNESS_PROGRESS asks for them."""
    return sys.stderr.isatty() or bool(os.environ.get("HARNESS_PROGRESS"))


def clock(seconds: float) -> str:
    seconds = int(round(seconds))
    hours, rest = divmod(seconds, 3600)
    return f"{hours}h{rest // 60:02d}m" if hours else f"{rest // 60}m{rest % 60:02d}s"


class ProgressLog:
    """One line to stderr each time another tenth of `total` is done; `done`
    counts from `first` (work finished before, as when a run resumes)."""

    def __init__(self, desc: str, total: int, parts: int = 10, stream=None, first: int = 0):
        self.desc, self.total, self.parts, self.first = desc, total, parts, first
        self.stream = stream or sys.stderr
        self.start = time.perf_counter()
        self.reported = first * parts // total if total > 0 else 0   # tenths already written

    def update(self, done: int) -> None:
        if self.total <= 0 or not distributed.is_main():   # one process speaks for all
            return
        tenth = min(self.parts, done * self.parts // self.total)
        if tenth <= self.reported:
            return
        self.reported = tenth
        elapsed = time.perf_counter() - self.start
        left = elapsed * (self.total - done) / max(done - self.first, 1)
        print(f"[harness] {self.desc}: {done}/{self.total} ({100 * done // self.total}%), "
              f"{clock(elapsed)} elapsed, about {clock(left)} left",
              file=self.stream, flush=True)


def _logged(iterable: Iterable, log: ProgressLog) -> Iterator:
    for done, item in enumerate(iterable, 1):
        yield item
        log.update(done)


def progress(iterable, desc: str = "", total: int | None = None, disable: bool = False):
    """`iterable`, reporting its progress: a bar on a terminal, log lines
    elsewhere, nothing when `disable` (work inside other work)."""
    if disable or not distributed.is_main():
        return iterable
    if progress_enabled():
        return tqdm(iterable, desc=desc, total=total, leave=False, dynamic_ncols=True)
    if total is None and hasattr(iterable, "__len__"):
        total = len(iterable)
    return _logged(iterable, ProgressLog(desc, total)) if total else iterable


class _Bar:
    """A tqdm bar driven by counts of work done rather than by iteration."""

    def __init__(self, desc: str, total: int):
        self.bar = tqdm(desc=desc, total=total, leave=False, dynamic_ncols=True)

    def update(self, done: int) -> None:
        self.bar.update(done - self.bar.n)
        if done >= self.bar.total:
            self.bar.close()


class _Silent:
    def update(self, done: int) -> None:
        pass


def counter(desc: str, total: int, disable: bool = False):
    """Progress of work that is not one loop (rows finishing in a decoding
    batch, say): `.update(done)` with the count so far; a bar on a terminal,
    log lines elsewhere, nothing when `disable`."""
    if disable or total <= 0 or not distributed.is_main():
        return _Silent()
    return _Bar(desc, total) if progress_enabled() else ProgressLog(desc, total)
