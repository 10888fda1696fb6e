"""One run folder, one writer: a lock for each run folder
(`<runs>/.locks/<benchmark>/<system>/<digest>.lock`, the maintained `filelock`
package, kept apart so that the run folders hold runs alone), so that two processes asked for the same run do not both train it.
The second waits, saying which process holds the folder, then finds the
finished result and reuses it."""
from __future__ import annotations

import contextlib
import os
from pathlib import Path

from harness.core import distributed


def _lock_path(run_dir: Path) -> Path:
    """runs/B/bert/<digest> -> runs/.locks/B/bert/<digest>.lock"""
    root = run_dir.parents[2]
    return root / ".locks" / run_dir.relative_to(root).with_suffix(".lock")


def _owner_file(run_dir: Path) -> Path:
    return _lock_path(run_dir).with_suffix(".owner")


@contextlib.contextmanager
def holding(run_dir: Path, log):
    """Hold the run folder's lock for the block (on the main process only:
    under torchrun the others follow it)."""
    if not distributed.is_main():
        yield
        return
    from filelock import FileLock, Timeout

    path = _lock_path(run_dir)
    path.parent.mkdir(parents=True, exist_ok=True)
    lock = FileLock(str(path))
    try:
        lock.acquire(timeout=0)
    except Timeout:
        owner = _owner_file(run_dir)
        pid = owner.read_text().strip() if owner.is_file() else "?"
        log(f"{run_dir}: in use by process {pid}; waiting for it to finish")
        lock.acquire()
    try:
        _owner_file(run_dir).write_text(f"{os.getpid()}\n")
        yield
    finally:
        lock.release()
