"""Where finished results are published in a reports folder:

    results/<benchmark>/<system>.json                      the system's entry in the report
    results/<benchmark>/curve/<system>/<train sentences>.json   its learning-curve points

Each file is a `RunResult`; the benchmark report is rebuilt from all of them,
so running one system never drops another's numbers.
"""
from __future__ import annotations

from pathlib import Path

from .results import RunResult


def results_path(reports_dir: Path, benchmark: str, system: str) -> Path:
    return Path(reports_dir) / "results" / benchmark / f"{system}.json"


def load_results(reports_dir: Path, benchmark: str) -> dict[str, RunResult]:
    folder = Path(reports_dir) / "results" / benchmark
    return {path.stem: RunResult.read(path) for path in sorted(folder.glob("*.json"))}


def curve_path(reports_dir: Path, benchmark: str, system: str, train_sentences: int) -> Path:
    return Path(reports_dir) / "results" / benchmark / "curve" / system / f"{train_sentences}.json"


def load_curve(reports_dir: Path, benchmark: str) -> dict[str, dict[int, RunResult]]:
    """{system: {training sentences: result}} of the published curve points."""
    folder = Path(reports_dir) / "results" / benchmark / "curve"
    out: dict[str, dict[int, RunResult]] = {}
    for path in sorted(folder.glob("*/*.json")):
        out.setdefault(path.parent.name, {})[int(path.stem)] = RunResult.read(path)
    return {name: dict(sorted(points.items())) for name, points in sorted(out.items())}
