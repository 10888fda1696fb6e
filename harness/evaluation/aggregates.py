"""What several training seeds of one contender (at one training size) add
up to: mean F1, its spread and a 95% interval for the mean.

With one seed there is no spread to measure; the interval is then the test
sentences' bootstrap interval of that run, and the report says so.
"""
from __future__ import annotations

from dataclasses import asdict, dataclass

import numpy as np

from harness.evaluation.results import RunResult


def mean_interval(values: list[float], confidence: float = 0.95) -> tuple[float, float]:
    """Student-t interval for the mean of a few values (seeds), within [0, 1]
    where F1 lives: with 3 seeds it is mean +- 4.30 sd / sqrt(3), wide, as
    three draws warrant."""
    from scipy.stats import t

    n, mean = len(values), float(np.mean(values))
    half = t.ppf((1 + confidence) / 2, n - 1) * float(np.std(values, ddof=1)) / np.sqrt(n)
    return max(0.0, mean - half), min(1.0, mean + half)


@dataclass(frozen=True)
class SeedAggregate:
    seeds: tuple[int, ...]
    f1: tuple[float, ...]            # per seed, in seed order
    macro_f1: tuple[float, ...]
    mean: float
    sd: float | None                 # None with one seed
    low: float                       # 95% interval: over seeds (t), or over test sentences
    high: float
    interval: str                    # "seeds" or "test sentences"

    @property
    def n(self) -> int:
        return len(self.seeds)

    @property
    def macro_mean(self) -> float:
        return float(np.mean(self.macro_f1))

    def to_dict(self) -> dict:
        return asdict(self) | {"n": self.n, "min": min(self.f1), "max": max(self.f1),
                               "macro_mean": self.macro_mean}


def aggregate(seeded: dict[int, RunResult]) -> SeedAggregate:
    seeds = tuple(sorted(seeded))
    f1 = tuple(float(seeded[s].test["f1"]) for s in seeds)
    macro = tuple(float(seeded[s].test["macro_f1"]) for s in seeds)
    if len(seeds) > 1 and len(set(f1)) > 1:   # a system the seed does not change has no spread
        low, high = mean_interval(list(f1))
        return SeedAggregate(seeds, f1, macro, float(np.mean(f1)), float(np.std(f1, ddof=1)),
                             low, high, "seeds")
    boot = seeded[seeds[0]].test_f1_bootstrap
    low, high = boot["ci95"] if boot else (f1[0], f1[0])
    sd = 0.0 if len(seeds) > 1 else None
    return SeedAggregate(seeds, f1, macro, f1[0], sd, low, high, "test sentences")
