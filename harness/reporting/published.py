"""Where finished results are published in a reports folder:

    results/<benchmark>/<system>.json                      the system's entry in the report
    results/<benchmark>/<system>.seed<N>.json              the same entry, trained with seed N
    results/<benchmark>/curve/<system>/<train sentences>.json        its learning-curve points
    results/<benchmark>/curve/<system>/<train sentences>.seed<N>.json

The first seed (`seeds.DEFAULT_SEED`) keeps the plain name, where single-seed
results always were.  Each file is a `RunResult`; the benchmark report is
rebuilt from all of them, so running one system never drops another's numbers.
"""
from __future__ import annotations

from pathlib import Path

from harness.evaluation.results import RunResult
from harness.core.seeds import DEFAULT_SEED, seeded_stem, split_stem

Seeded = dict[int, RunResult]   # seed -> result of one contender (at one size)


def results_path(reports_dir: Path, benchmark: str, system: str,
                 seed: int = DEFAULT_SEED) -> Path:
    return Path(reports_dir) / "results" / benchmark / f"{seeded_stem(system, seed)}.json"


def curve_path(reports_dir: Path, benchmark: str, system: str, train_sentences: int,
               seed: int = DEFAULT_SEED) -> Path:
    return (Path(reports_dir) / "results" / benchmark / "curve" / system
            / f"{seeded_stem(str(train_sentences), seed)}.json")


def _by_seed(paths) -> dict[str, Seeded]:
    """{contender name: {seed: result}} of published files, seeds ascending."""
    out: dict[str, Seeded] = {}
    for path in paths:
        r = RunResult.read(path)
        out.setdefault(split_stem(path.stem), {})[r.seed] = r
    return {name: dict(sorted(seeded.items())) for name, seeded in out.items()}


def representative(seeded: Seeded) -> RunResult:
    """The one result that stands for a contender in per-run tables: the
    default seed's where there is one, else the lowest seed's."""
    return seeded.get(DEFAULT_SEED) or seeded[min(seeded)]


def load_seeded(reports_dir: Path, benchmark: str) -> dict[str, Seeded]:
    folder = Path(reports_dir) / "results" / benchmark
    return _by_seed(sorted(folder.glob("*.json")))


def load_results(reports_dir: Path, benchmark: str) -> dict[str, RunResult]:
    """{contender: its representative result}, in name order."""
    return {name: representative(s) for name, s in load_seeded(reports_dir, benchmark).items()}


def load_curve_seeded(reports_dir: Path, benchmark: str) -> dict[str, dict[int, Seeded]]:
    """{system: {training sentences: {seed: result}}} of the published curve points."""
    folder = Path(reports_dir) / "results" / benchmark / "curve"
    out: dict[str, dict[int, Seeded]] = {}
    for system_dir in sorted(p for p in folder.glob("*") if p.is_dir()):
        sizes = _by_seed(sorted(system_dir.glob("*.json")))
        out[system_dir.name] = dict(sorted((int(n), s) for n, s in sizes.items()))
    return {name: points for name, points in out.items() if points}


def load_curve(reports_dir: Path, benchmark: str) -> dict[str, dict[int, RunResult]]:
    """{system: {training sentences: representative result}}."""
    return {name: {n: representative(s) for n, s in points.items()}
            for name, points in load_curve_seeded(reports_dir, benchmark).items()}
