"""The grid both cluster executors' tests submit, and what they compare: the
spaCy trainer on B at two sizes and two seeds (four points), one epoch."""
import json
from pathlib import Path

from conftest import TINY, make_hub_folder


def grid(root: Path, name: str, *extra: str, relative: bool = False) -> list[str]:
    """The curve command of the grid, its data written under `root`; its
    paths relative to `root` where the command runs there (a Ray task runs
    where the command was given)."""
    make_hub_folder(root / "data", TINY * 3)
    base = Path() if relative else root
    return ["curve", "--systems", "spacy-trained", "--benchmark", "B", "--data", str(base / "data"),
            "--sizes", "4,all", "--seeds", "42,43", "--epochs", "1", "--latency-batches", "1",
            "--reports", str(base / f"reports-{name}"), "--runs", str(base / f"runs-{name}"),
            *extra]


def f1s(reports: Path) -> dict[str, float]:
    """{point file: test F1} of the grid's finished points."""
    points = sorted((reports / "results" / "B" / "curve" / "spacy-trained").glob("*.json"))
    return {p.name: json.loads(p.read_text())["test"]["f1"] for p in points}
