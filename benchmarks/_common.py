"""Shared set-up of the speed suites and comparison scripts."""
from __future__ import annotations

import sys
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
if str(ROOT) not in sys.path:
    sys.path.insert(0, str(ROOT))

from benchmarks.definitions import SHARED_SUBSET  # noqa: E402
from harness.data import load_local  # noqa: E402


def real_test_sentences(n: int, scheme_name: str = "B") -> tuple[list[list[str]], list[list[str]]]:
    """The first `n` test sentences of the shared subset, tags in the scheme."""
    from harness.labels import get_scheme

    split = load_local(SHARED_SUBSET).splits["test"]
    scheme = get_scheme(scheme_name)
    tokens = split.tokens[:n]
    return tokens, [[scheme.map_tag(t) for t in tags] for tags in split.tags[:n]]


def interleaved(fns, repeats: int = 5, warmup: bool = True) -> list[float]:
    """Best wall time of each function, timed in turn `repeats` times (after one
    warm-up call each, unless the caller has just run them), so that drift in
    the machine's speed hits all alike."""
    import time

    for fn in fns if warmup else ():
        fn()
    best = [float("inf")] * len(fns)
    for _ in range(repeats):
        for i, fn in enumerate(fns):
            t0 = time.perf_counter()
            fn()
            best[i] = min(best[i], time.perf_counter() - t0)
    return best
