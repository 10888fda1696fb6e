"""Benchmarks: one definition each, registered by name.

A benchmark is a dataset and a label scheme.  A dataset (`DatasetConfig`, as
in EuroEval) says what it is called, its language, where it comes from (a hub
id, or a local folder named by --data or an environment variable) and how its
files read: each reader gives the same `corpus.LoadedData`, whatever the
format.  The label scheme holds the dataset's tag set and the types kept.

MultiNERD English A and B are built in; other MultiNERD languages are the same
definitions in another language (`--lang de`: benchmarks A-de and B-de).
Packages add benchmarks through the ``ner_harness.benchmarks`` entry-point
group (an entry point is a `Benchmark`, or a function returning several).
"""
from __future__ import annotations

import dataclasses
import os
from dataclasses import dataclass
from importlib import metadata
from pathlib import Path
from typing import Callable

from harness.core.errors import ConfigError, DataError
from harness.core.labels import LabelScheme
from harness.data import multinerd
from harness.data.corpus import LoadedData, RawSplit

ENTRY_POINT_GROUP = "ner_harness.benchmarks"
DATA_ENV = "HARNESS_DATA"   # the local folder of the offline profiles' built-in benchmarks
LANGUAGE_NAMES = {"de": "German", "en": "English", "es": "Spanish", "fr": "French",
                  "it": "Italian", "nl": "Dutch", "pl": "Polish", "pt": "Portuguese",
                  "ru": "Russian", "zh": "Chinese"}


@dataclass(frozen=True)
class DatasetConfig:
    """One dataset: its name and language, where it comes from, how it reads."""

    name: str                                         # "MultiNERD"
    language: str                                     # "en"
    read_local: Callable[[Path, str], LoadedData]     # (folder, language): every split
    read_file: Callable[[Path, str], RawSplit]        # (file, language): one gold file
    hub_id: str | None = None
    read_hub: Callable[[str, str], LoadedData] | None = None
    languages: tuple[str, ...] = ()                   # the languages it has (empty: its own)
    local_env: str = DATA_ENV
    layout: str = ""                                  # the local layout, in words

    @property
    def title(self) -> str:
        return f"{self.name} {LANGUAGE_NAMES.get(self.language, self.language)}"

    def source(self, data: str | None, hub: bool) -> str:
        """Where to read from: `data` when given, else the hub (hub profiles)
        or the folder in the dataset's environment variable."""
        if data:
            return str(data)
        if hub and self.hub_id:
            return f"hub:{self.hub_id}"
        local = os.environ.get(self.local_env)
        if not local:
            raise DataError(f"{self.title} is read from a local folder: pass --data PATH or "
                            f"set {self.local_env}" + (f" ({self.layout})" if self.layout else ""))
        if not os.path.isdir(local):
            raise DataError(f"{local}: data folder not found (from ${self.local_env}); "
                            f"pass --data PATH or set {self.local_env} to the folder")
        return local

    def load(self, source: str) -> LoadedData:
        hub = source.startswith("hub:") or (self.hub_id is not None and source == self.hub_id)
        if hub:
            if self.read_hub is None:
                raise DataError(f"{self.title} has no hub source; pass --data PATH")
            return self.read_hub(source.removeprefix("hub:"), self.language)
        return self.read_local(Path(source), self.language)

    def in_language(self, language: str) -> "DatasetConfig":
        if language not in (self.languages or (self.language,)):
            raise ConfigError(f"{self.name} has no language {language!r}; it has "
                              f"{', '.join(self.languages or (self.language,))}")
        return dataclasses.replace(self, language=language)


@dataclass(frozen=True)
class Benchmark:
    name: str
    dataset: DatasetConfig
    scheme: LabelScheme

    @property
    def title(self) -> str:
        return f"{self.dataset.title}, label scheme {self.scheme.name}: {self.scheme.description}"

    def read_gold(self, path: Path) -> RawSplit:
        """One gold file read by the dataset's reader (what `score --gold` takes)."""
        return self.dataset.read_file(Path(path), self.dataset.language)

    def in_language(self, language: str) -> "Benchmark":
        """The same scheme on the dataset in `language` (named `A-de` for A)."""
        if language == self.dataset.language:
            return self
        return Benchmark(f"{self.name}-{language}", self.dataset.in_language(language), self.scheme)


MULTINERD = DatasetConfig(
    "MultiNERD", "en", read_local=multinerd.load_local, read_file=multinerd.read_gold_file,
    hub_id=multinerd.HUB_ID, read_hub=multinerd.load_hub, languages=multinerd.LANGUAGES,
    layout="the hub layout train/train_en.jsonl, val/, test/ or the TSV files train_en.tsv, ...")

BENCHMARKS: dict[str, Benchmark] = {
    name: Benchmark(name, MULTINERD, scheme) for name, scheme in multinerd.SCHEMES.items()}
UNAVAILABLE: dict[str, str] = {}   # entry point -> why it could not be loaded here
_plugins_loaded = False


def register_benchmark(benchmark: Benchmark) -> Benchmark:
    existing = BENCHMARKS.get(benchmark.name)
    if existing is not None and existing != benchmark:
        raise ValueError(f"benchmark name {benchmark.name!r} is already taken")
    BENCHMARKS[benchmark.name] = benchmark
    return benchmark


def unregister_benchmark(name: str) -> None:
    BENCHMARKS.pop(name, None)


def benchmarks() -> dict[str, Benchmark]:
    """Every benchmark: the built-in ones, then those of installed packages."""
    global _plugins_loaded
    if not _plugins_loaded:
        _plugins_loaded = True
        for ep in metadata.entry_points(group=ENTRY_POINT_GROUP):
            try:
                found = ep.load()
            except ImportError as err:   # a plug-in whose packages are missing here
                UNAVAILABLE[ep.name] = f"cannot be imported here: {err}"
                continue
            found = found() if callable(found) else found
            for bench in [found] if isinstance(found, Benchmark) else found:
                register_benchmark(bench)
    return BENCHMARKS


def _find(name: str) -> Benchmark | None:
    """A registered benchmark, or one in another language by its name (A-de)."""
    known = benchmarks()
    if name in known:
        return known[name]
    base, _, language = name.rpartition("-")
    if base in known and language in known[base].dataset.languages:
        return known[base].in_language(language)
    return None


def get_benchmark(name: str, language: str | None = None) -> Benchmark:
    found = _find(name)
    if found is None:
        raise ConfigError(f"unknown benchmark {name!r}; known: {', '.join(benchmarks())}")
    return found.in_language(language) if language else found


def parse_benchmarks(spec: str, language: str | None = None) -> list[Benchmark]:
    names = [n.strip() for n in spec.split(",") if n.strip()]
    unknown = [n for n in names if _find(n) is None]
    if unknown or not names:
        raise ConfigError(f"unknown benchmark(s) {unknown or spec!r}; "
                          f"known: {', '.join(benchmarks())}")
    return [get_benchmark(n, language) for n in names]
