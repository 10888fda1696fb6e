"""The interface every NER system implements, and the registry that finds them.

A system is one class::

    @register_system("my-system")
    class MySystem(NERSystem):
        requires = ("some_module",)        # import names; missing -> skipped
        Config = MyConfig                  # a dataclass; PROFILES gives defaults
        def train(self, train, validation, workdir): ...   -> list of epoch dicts
        def predict(self, sentences): ...                  -> list of tag lists

Modules in the `systems` package are imported automatically; systems living
in other packages register through the ``ner_harness.systems`` entry point.
"""
from __future__ import annotations

import dataclasses
import importlib
import importlib.util
import json
import pkgutil
from abc import ABC, abstractmethod
from importlib import metadata
from pathlib import Path
from typing import Any, ClassVar, Sequence

from harness.labels import LabelScheme, get_scheme

ENTRY_POINT_GROUP = "ner_harness.systems"
SYSTEM_FILE = "harness_system.json"

# One record per epoch; a system fills the keys it can and leaves others None.
HISTORY_KEYS = ("epoch", "train_loss", "eval_loss", "accuracy", "precision",
                "recall", "f1", "train_seconds")


class UnknownSystemError(KeyError):
    def __str__(self) -> str:  # KeyError would quote the message
        return str(self.args[0])


class ModelNotFoundError(FileNotFoundError):
    """A model name or path that cannot be loaded."""


def epoch_record(epoch: int, **values: Any) -> dict:
    unknown = set(values) - set(HISTORY_KEYS)
    if unknown:
        raise ValueError(f"unknown history keys {sorted(unknown)}")
    return {key: values.get(key) for key in HISTORY_KEYS} | {"epoch": epoch}


@dataclasses.dataclass
class SystemConfig:
    """Fields every system config has; systems subclass it."""

    model: str = ""
    epochs: int = 2
    batch_size: int = 16
    seed: int = 42


class NERSystem(ABC):
    name: ClassVar[str] = ""
    description: ClassVar[str] = ""
    requires: ClassVar[tuple[str, ...]] = ()
    Config: ClassVar[type[SystemConfig]] = SystemConfig
    # profile name -> overrides of Config defaults (for example the model).
    PROFILES: ClassVar[dict[str, dict[str, Any]]] = {"offline": {}, "full": {}}
    notes: list[str]

    def __init__(self, scheme: LabelScheme, config: SystemConfig):
        self.scheme = scheme
        self.config = config
        self.notes = []  # facts a report should state (fallbacks, mappings)

    # -- construction ---------------------------------------------------
    @classmethod
    def make_config(cls, profile: str = "offline", **overrides: Any) -> SystemConfig:
        if profile not in cls.PROFILES:
            raise ValueError(
                f"system {cls.name!r} has no profile {profile!r}; known: {', '.join(cls.PROFILES)}")
        fields = {f.name for f in dataclasses.fields(cls.Config)}
        unknown = sorted(set(overrides) - fields)
        if unknown:
            raise ValueError(f"system {cls.name!r} has no config field(s) {unknown}; "
                             f"fields: {', '.join(sorted(fields))}")
        values = dict(cls.PROFILES[profile])
        values.update({k: v for k, v in overrides.items() if v is not None})
        return cls.Config(**values)

    @classmethod
    def missing_requirements(cls) -> list[str]:
        return [m for m in cls.requires if importlib.util.find_spec(m) is None]

    # -- the interface --------------------------------------------------
    @abstractmethod
    def train(self, train, validation, workdir: Path | None = None) -> list[dict]:
        """Fit on `train` (a datasets.Dataset with tokens/tags); return one
        `epoch_record` per epoch, scored on `validation`."""

    @abstractmethod
    def predict(self, sentences: Sequence[Sequence[str]]) -> list[list[str]]:
        """One scheme tag per input token, for every sentence."""

    def save(self, path: Path) -> None:
        """Write what `load` needs.  The default stores the config only."""
        path = Path(path)
        path.mkdir(parents=True, exist_ok=True)
        (path / SYSTEM_FILE).write_text(json.dumps({
            "system": self.name,
            "scheme": self.scheme.name,
            "config": dataclasses.asdict(self.config),
        }, indent=2))

    @classmethod
    def load(cls, path: Path) -> "NERSystem":
        path = Path(path)
        meta_file = path / SYSTEM_FILE
        if not meta_file.is_file():
            raise ModelNotFoundError(f"{path}: no saved system here ({SYSTEM_FILE} missing)")
        meta = json.loads(meta_file.read_text())
        system = cls(get_scheme(meta["scheme"]), cls.Config(**meta["config"]))
        system._load_weights(path)
        return system

    def _load_weights(self, path: Path) -> None:
        """Restore trained state from `path` (systems with weights override)."""

    def prediction_stats(self) -> dict:
        """Counters since the last reset (a generative system counts malformed
        and hallucinated items and generated tokens here)."""
        return {}

    def reset_stats(self) -> None:
        """Zero the counters of `prediction_stats`."""

    def raw_outputs(self) -> list[dict] | None:
        """What the last `predict` call produced before it became tags, one dict
        per sentence (a generative system: its answer and the parser's
        complaints), saved beside the predictions so that they can be read and
        re-parsed later; None for systems whose output is the tags."""
        return None

    def runtime_info(self) -> dict:
        """Device, dtype, threads and batch size, for the latency table."""
        return {"device": "cpu", "batch_size": self.config.batch_size}


# ------------------------------------------------------------- registry
_REGISTRY: dict[str, type[NERSystem]] = {}
_discovered = False


def register_system(name: str):
    """Class decorator: make a system available under `name`."""

    def decorate(cls: type[NERSystem]) -> type[NERSystem]:
        if not issubclass(cls, NERSystem):
            raise TypeError(f"{cls.__name__} must subclass NERSystem")
        existing = _REGISTRY.get(name)
        if existing is not None and existing.__qualname__ != cls.__qualname__:
            raise ValueError(f"system name {name!r} is already taken by {existing.__qualname__}")
        cls.name = name
        _REGISTRY[name] = cls
        return cls

    return decorate


def unregister_system(name: str) -> None:
    _REGISTRY.pop(name, None)


def discover() -> None:
    """Import every module of this package, then the entry-point plugins."""
    global _discovered
    if _discovered:
        return
    _discovered = True
    package = importlib.import_module("systems")
    for mod in pkgutil.iter_modules(package.__path__):
        if mod.name != "base":
            importlib.import_module(f"systems.{mod.name}")
    for ep in metadata.entry_points(group=ENTRY_POINT_GROUP):
        ep.load()


def registered() -> dict[str, type[NERSystem]]:
    discover()
    return dict(sorted(_REGISTRY.items()))


def get_system(name: str) -> type[NERSystem]:
    systems = registered()
    if name not in systems:
        raise UnknownSystemError(
            f"unknown system {name!r}; known systems: {', '.join(systems) or 'none'}")
    return systems[name]
