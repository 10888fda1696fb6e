"""Learning curves: each system trained at several nested training sizes and
scored on the same validation and test sentences.

Every (system, size, seed) point is an ordinary run with its own spec and
folder, so a finished point is reused; its result is published under
``reports/results/<benchmark>/curve/<system or --label>/<train sentences>[.seed<N>].json``
(`published`), apart from the system's headline entry in the report.  Within
a seed the subsets are nested across sizes; each seed draws its own.
"""
from __future__ import annotations

import dataclasses

from pathlib import Path

from harness.core.errors import ConfigError
from harness.run.grid import GridPoint, execute
from harness.reporting.published import curve_path
from harness.evaluation.results import RunResult
from harness.run.runner import RunOptions, check_label, log_skipped, prepare


def parse_sizes(text: str) -> list[int | None]:
    """"250,500,all" -> [250, 500, None] (None: the whole training split), ascending."""
    sizes: list[int | None] = []
    for part in (p.strip() for p in text.split(",") if p.strip()):
        if part == "all":
            sizes.append(None)
        elif part.isdigit() and int(part) > 0:
            sizes.append(int(part))
        else:
            raise ConfigError(f"--sizes: {part!r} is neither a positive number nor 'all'")
    if not sizes:
        raise ConfigError("--sizes: no training size given")
    return sorted(set(sizes), key=lambda n: float("inf") if n is None else n)


def curve_point_path(opts: RunOptions, bench, result: RunResult) -> Path:
    return curve_path(opts.reports_dir, bench.name, opts.label or result.system,
                      result.train_sentences, opts.seed)


def run_curve(opts: RunOptions, sizes: list[int | None]) -> list[RunResult]:
    """Every runnable system at every size, smallest first, and every seed of
    each size, on every benchmark; a labelled system's points are published
    under its label, so two configurations of one system (two encoders, say)
    each keep their curve."""
    check_label(opts)
    runnable, skipped, data = prepare(opts)
    points = []
    for bench in opts.benchmarks:
        n_train = len(data(bench).splits["train"]) if data else 0
        for size in sizes:
            limit = None if size is None or size >= n_train else size
            for seeded in opts.per_seed():
                point = dataclasses.replace(seeded, limit=limit, system_limits={})
                points += [GridPoint(point, bench, name, curve_point_path,
                                     f"{bench.name}/{name}: curve point at {limit or n_train} "
                                     f"training sentences, seed {point.seed}")
                           for name in runnable]
    results = execute(points, data, runnable, skipped, opts)
    log_skipped(skipped)
    return results
