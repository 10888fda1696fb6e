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

from . import distributed
from .errors import ConfigError
from .fileio import write_json_atomic
from .index_page import write_reports
from .published import curve_path
from .results import RunResult
from .runner import RunOptions, check_label, log, log_skipped, prepare, run_or_skip


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


def publish_point(opts: RunOptions, bench, result: RunResult, skipped: dict) -> None:
    write_json_atomic(curve_path(opts.reports_dir, bench.name, opts.label or result.system,
                                 result.train_sentences, opts.seed), result.to_dict())
    write_reports(opts.reports_dir, bench, skipped)


def run_curve(opts: RunOptions, sizes: list[int | None]) -> list[RunResult]:
    """Every runnable system at every size, smallest first, and every seed of
    each size, on every benchmark; a labelled system's points are published under its label, so two
    configurations of one system (two encoders, say) each keep their curve."""
    check_label(opts)
    runnable, skipped, data = prepare(opts)
    results = []
    n_train = len(data.splits["train"]) if data else 0
    for bench in opts.benchmarks:
        for size in sizes:
            limit = None if size is None or size >= n_train else size
            for seeded in opts.per_seed():
                point = dataclasses.replace(seeded, limit=limit, system_limits={})
                for name in list(runnable):
                    log(f"{bench.name}/{name}: curve point at {limit or n_train} training "
                        f"sentences, seed {point.seed}")
                    result = run_or_skip(point, bench, name, data, runnable, skipped)
                    if result is not None:
                        distributed.on_main(lambda: publish_point(point, bench, result, skipped))
                        results.append(result)
    log_skipped(skipped)
    return results
