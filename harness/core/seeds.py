"""Training seeds as an axis of every run.

A run's seed draws its training subset and seeds its system (what that
controls is the system's `SEED_CONTROLS`).  `--seeds 3` takes the first three
of `SEEDS`, a fixed list that starts with the single-seed default, so the
runs made before seeds were an axis are the first seed and keep their hashes.
"""
from __future__ import annotations

import re

from harness.core.errors import ConfigError

SEEDS: tuple[int, ...] = (42, 43, 44, 45, 46, 47, 48, 49, 50, 51)
DEFAULT_SEED = SEEDS[0]

_SUFFIX = re.compile(r"^(?P<name>.+)\.seed(?P<seed>\d+)$")


def parse_seeds(text: str) -> tuple[int, ...]:
    """'3' -> the first three of SEEDS; '42,43,44' -> those seeds, in that order."""
    parts = [p.strip() for p in text.split(",") if p.strip()]
    if len(parts) == 1 and "," not in text:
        count = int(parts[0]) if parts[0].isdigit() else 0
        if not 1 <= count <= len(SEEDS):
            raise ConfigError(f"--seeds: a count is 1 to {len(SEEDS)} (the first N of "
                              f"{', '.join(map(str, SEEDS))}), or give seeds as 42,43,...; "
                              f"got {text!r}")
        return SEEDS[:count]
    bad = [p for p in parts if not p.isdigit()]
    if bad or not parts:
        raise ConfigError(f"--seeds: expected a count or comma-separated seeds, got {text!r}")
    seeds = tuple(dict.fromkeys(int(p) for p in parts))
    return seeds


def seeded_stem(name: str, seed: int) -> str:
    """The file stem of one seed's published result: the name itself for the
    default seed (where single-seed results always were), else name.seedN."""
    return name if seed == DEFAULT_SEED else f"{name}.seed{seed}"


def split_stem(stem: str) -> str:
    """The contender's name in a published file stem (`bert.seed43` -> `bert`)."""
    match = _SUFFIX.match(stem)
    return match["name"] if match else stem
