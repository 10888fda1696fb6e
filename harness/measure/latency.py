"""One latency protocol for every system.

Like spaCy's `benchmark speed`: a few warm-up batches are run and thrown
away, then many timed batches; throughput gets a bootstrap 95% interval from
resampling the timed batches.  On CUDA the device is synchronised around each
batch so that queued kernels are not mistaken for finished work.
"""
from __future__ import annotations

import re
import resource
import sys
import time
from typing import Callable, Sequence

import numpy as np

from harness.measure import contention

# Latency rows last seconds to minutes: sampled more often than training.
WATCH_INTERVAL = 5.0

Predict = Callable[[Sequence[Sequence[str]]], list]


def _cuda_sync() -> Callable[[], None]:
    torch = sys.modules.get("torch")
    if torch is not None and torch.cuda.is_available():
        return torch.cuda.synchronize
    return lambda: None


def reset_peak_memory() -> bool:
    """Start a fresh peak-memory window; False where only the lifetime peak exists.

    Without this, a latency run after training would report training's peak.
    Linux resets the resident high-water mark (VmHWM) on writing 5 to clear_refs."""
    torch = sys.modules.get("torch")
    if torch is not None and torch.cuda.is_available():
        torch.cuda.reset_peak_memory_stats()
    try:
        with open("/proc/self/clear_refs", "w") as f:
            f.write("5")
        return True
    except OSError:
        return False


def peak_rss_mb() -> float:
    try:
        with open("/proc/self/status") as f:
            m = re.search(r"VmHWM:\s+(\d+) kB", f.read())
        if m:
            return int(m.group(1)) / 1024
    except OSError:
        pass
    # ru_maxrss is KiB on Linux, the process's lifetime peak.
    return resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024


def bootstrap_ci(batch_sizes: np.ndarray, batch_seconds: np.ndarray, seed: int,
                 resamples: int = 1000) -> tuple[float, float]:
    """95% interval of sentences/s from resampling whole batches."""
    rng = np.random.default_rng(seed)
    n = len(batch_seconds)
    idx = rng.integers(0, n, size=(resamples, n))
    rates = batch_sizes[idx].sum(axis=1) / batch_seconds[idx].sum(axis=1)
    lo, hi = np.percentile(rates, [2.5, 97.5])
    return float(lo), float(hi)


def measure(predict: Predict, sentences: Sequence[Sequence[str]], batch_size: int,
            warmup_batches: int = 2, timed_batches: int = 30, seed: int = 0,
            token_counter: Callable[[], int | None] | None = None,
            flop_counter: Callable[[], float | None] | None = None) -> dict:
    """Time `predict` on fixed batches drawn in order (cycling) from `sentences`.

    `token_counter` and `flop_counter`, if given, return running counts of
    generated tokens and of model FLOPs; their growth over the timed batches
    gives generated tokens/s and achieved GFLOP/s."""
    if not sentences:
        raise ValueError("latency needs at least one sentence")
    total = batch_size * (warmup_batches + timed_batches)
    pool = [sentences[i % len(sentences)] for i in range(total)]
    batches = [pool[i:i + batch_size] for i in range(0, total, batch_size)]
    sync = _cuda_sync()
    with contention.Watch(interval=WATCH_INTERVAL) as watch:
        windowed = reset_peak_memory()
        for batch in batches[:warmup_batches]:
            predict(batch)
        sync()
        tokens_before = token_counter() if token_counter else None
        flops_before = flop_counter() if flop_counter else None
        seconds, words = [], []
        for batch in batches[warmup_batches:]:
            t0 = time.perf_counter()
            predict(batch)
            sync()
            seconds.append(time.perf_counter() - t0)
            words.append(sum(len(s) for s in batch))
    secs = np.asarray(seconds)
    sizes = np.full(len(secs), batch_size, dtype=float)
    per_sentence_ms = secs / batch_size * 1000
    lo, hi = bootstrap_ci(sizes, secs, seed)
    result = {
        "contention": watch.summary(),
        "batch_size": batch_size,
        "warmup_batches": warmup_batches,
        "timed_batches": len(secs),
        "sentences_per_s": float(sizes.sum() / secs.sum()),
        "sentences_per_s_ci95": [lo, hi],
        "words_per_s": float(sum(words) / secs.sum()),
        "ms_per_sentence_mean": float(per_sentence_ms.mean()),
        "ms_per_sentence_p50": float(np.percentile(per_sentence_ms, 50)),
        "ms_per_sentence_p95": float(np.percentile(per_sentence_ms, 95)),
        "peak_rss_mb": peak_rss_mb(),
        # Where the window cannot be reset, the peak is the whole process's, training included.
        "peak_memory_window": "measurement" if windowed else "process lifetime",
    }
    if tokens_before is not None:
        result["generated_tokens_per_s"] = float((token_counter() - tokens_before) / secs.sum())
    if flops_before is not None:
        result["gflops_per_s"] = float((flop_counter() - flops_before) / secs.sum() / 1e9)
    torch = sys.modules.get("torch")
    if torch is not None and torch.cuda.is_available():
        result["cuda_max_allocated_mb"] = torch.cuda.max_memory_allocated() / 2**20
    return result
