"""`reports/index.md`: every benchmark's summary table and plots on one page,
each linking to its full report.  Rebuilt from the published results after
every benchmark report, so it never disagrees with them."""
from __future__ import annotations

import json
from pathlib import Path

from harness.evaluation import contenders
from harness.data.benchmarks import benchmarks, get_benchmark
from harness.core.errors import ConfigError, DataError
from harness.core.fileio import write_text_atomic
from harness.reporting.published import load_seeded, representative
from harness.reporting.reports import summary_table, write_benchmark_report

INDEX_FILE = "index.md"
PLOTS = (("curve", "learning curve"), ("cost-speed", "test F1 against inference speed"),
         ("cost-training", "test F1 against training time"))


def benchmark_names(reports_dir: Path) -> list[str]:
    """The registered benchmarks in order, then any other with published
    results (a `--lang` variant, a plug-in not installed here)."""
    known = list(benchmarks())
    folder = Path(reports_dir) / "results"
    found = sorted(p.name for p in folder.iterdir() if p.is_dir()) if folder.is_dir() else []
    return known + [n for n in found if n not in known]


def _heading(name: str) -> str:
    try:
        bench = get_benchmark(name)
    except ConfigError:   # a plug-in not installed here
        bench = None
    return f"## Benchmark {name}: {bench.scheme.description}" if bench else f"## Benchmark {name}"


def benchmark_block(reports_dir: Path, name: str) -> list[str]:
    """One benchmark's part of the page; empty when it has no finished run."""
    try:
        seeded = load_seeded(reports_dir, name)
    except DataError as err:   # the other benchmarks are still shown
        return [_heading(name),
                f"_Not shown: {err}_"]
    if not seeded:
        return []
    results = {n: representative(s) for n, s in seeded.items()}
    parts = [_heading(name),
             f"Full report: [{name}.md]({name}.md)",
             contenders.training_summary(results),
             contenders.hardware_summary(results),
             summary_table(seeded)]
    parts = [p for p in parts if p]
    for stem, alt in PLOTS:
        rel = f"plots/{name}-{stem}.png"
        if (Path(reports_dir) / rel).is_file():
            parts.append(f"![{name}: {alt}]({rel})")
    return parts


def findings_lines(reports_dir: Path) -> list[str]:
    """One line per finding of every benchmark, from the findings its JSON
    report holds (written just before), linking to the full tables."""
    lines = []
    for name in benchmark_names(reports_dir):
        path = Path(reports_dir) / f"{name}.json"
        try:
            groups = json.loads(path.read_text()).get("findings", []) if path.is_file() else []
        except json.JSONDecodeError:
            groups = []   # its benchmark block says what cannot be read
        lines += [f"- **{name}, {g['title'][0].lower() + g['title'][1:]}:** {g['sentence']}"
                  for g in groups]
    return lines


def write_index(reports_dir: Path) -> Path:
    parts = ["# Results",
             "Written by `python -m harness`; do not edit by hand. The findings first (each "
             "benchmark report's findings section has their tables and tests), then each "
             "benchmark's summary (test split) and plots; its full report holds the "
             "configuration, provenance, per-epoch, per-type and latency tables behind every "
             "number."]
    found = findings_lines(reports_dir)
    if found:
        parts += ["## Findings", "\n".join(found)]
    blocks = [block for name in benchmark_names(reports_dir) for block in benchmark_block(reports_dir, name)]
    parts += blocks or ["_No finished runs yet._"]
    path = Path(reports_dir) / INDEX_FILE
    write_text_atomic(path, "\n\n".join(parts) + "\n")
    return path


def write_reports(reports_dir: Path, bench, skipped: dict[str, str] | None = None) -> Path:
    """The benchmark's report, then the index that summarises it; the report's path."""
    path = write_benchmark_report(reports_dir, bench, skipped)
    write_index(reports_dir)
    return path
