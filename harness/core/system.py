"""The interface every NER system implements.

A system is one class, registered by name (see `registry`)::

    @register_system("my-system")
    class MySystem(NERSystem):
        requires = ("some_module",)        # import names; missing -> skipped
        Config = MyConfig                  # a dataclass; PROFILES gives defaults
        def train(self, train, validation, workdir): ...   -> list of epoch dicts
        def predict(self, sentences, *, show_progress=False): ... -> tag lists

Everything else has a default: saving the config, loading it back, no
counters, no raw outputs, no extra report sections.
"""
from __future__ import annotations

import dataclasses
import importlib.util
import json
import shutil
from abc import ABC, abstractmethod
from pathlib import Path
from typing import Any, ClassVar, Sequence

from harness.core.profiles import profile_settings
from harness.core.config_checks import checked
from harness.core.errors import ConfigError, ModelNotFoundError
from harness.core.labels import LabelScheme

SYSTEM_FILE = "harness_system.json"

# One record per epoch; a system fills the keys it can and leaves others None.
# train_seconds is the epoch's training alone; eval_seconds its validation at the end.
HISTORY_KEYS = ("epoch", "train_loss", "eval_loss", "accuracy", "precision",
                "recall", "f1", "train_seconds", "eval_seconds")


def has_checkpoint(workdir: Path) -> bool:
    """Does the run's checkpoint folder hold a checkpoint to resume from
    (`checkpoint-<step>`, as the transformers Trainer names them)?"""
    return any(Path(workdir).glob("checkpoint-*"))


def epoch_record(epoch: int, **values: Any) -> dict:
    unknown = set(values) - set(HISTORY_KEYS)
    if unknown:
        raise ValueError(f"unknown history keys {sorted(unknown)}")
    return {key: values.get(key) for key in HISTORY_KEYS} | {"epoch": epoch}


def unhashed_default(default: Any, inference: bool = False) -> Any:
    """A config field added after runs were made: while it holds this default
    it is left out of the run hash, so those runs keep their hash."""
    return dataclasses.field(default=default,
                             metadata={"unhashed_default": True, "inference": inference})


def inference_field(default: Any) -> Any:
    """A config field used only when predicting (batch size, decoder): runs
    that differ only in such fields share one trained model.  A field that
    can change which weights are kept (validation that picks the best epoch)
    is not one."""
    return dataclasses.field(default=default, metadata={"inference": True})


@dataclasses.dataclass
class SystemConfig:
    """Fields every system config has; systems subclass it."""

    model: str = ""
    epochs: int = 2
    batch_size: int = 16
    seed: int = 42

    def inference_fields(self) -> list[str]:
        return [f.name for f in dataclasses.fields(self) if f.metadata.get("inference")]

    # Fields a config no longer has (a system that stopped using them), at the
    # one value every earlier run had: hashed as before, so those runs keep
    # their hash while no run can set them.  `retired_unhashed`: removed fields
    # that were only ever hashed away from their default (`unhashed_default`).
    retired: ClassVar[dict[str, Any]] = {}
    retired_unhashed: ClassVar[tuple[str, ...]] = ()

    def unhashed_fields(self) -> list[str]:
        return [f.name for f in dataclasses.fields(self)
                if f.metadata.get("unhashed_default") and getattr(self, f.name) == f.default]

    @classmethod
    def from_saved(cls, values: dict) -> "SystemConfig":
        """A config written by an earlier version: its retired fields are dropped."""
        gone = set(cls.retired) | set(cls.retired_unhashed)
        return cls(**{k: v for k, v in values.items() if k not in gone})


@dataclasses.dataclass
class Counters:
    """What a system counts while predicting (a typed record).  A subclass
    says how its section in the report is titled and explained; a field's
    ``metadata={"label": ...}`` names its column."""

    title: ClassVar[str] = "Prediction counters (test)"
    legend: ClassVar[str] = ""

    def output_tokens(self) -> int | None:
        """Tokens generated so far, for generated tokens/s; None if not generative."""
        return None

    def to_dict(self) -> dict:
        return dataclasses.asdict(self)


@dataclasses.dataclass
class ReportSection:
    """A titled table a system adds to its part of the report."""

    title: str
    headers: list[str]
    rows: list[list[Any]]
    text: str = ""


def _importable(module: str) -> bool:
    """Whether `module` is installed; a finder that refuses it (an install
    without it, or a test blocking it) counts as not installed."""
    try:
        return importlib.util.find_spec(module) is not None
    except (ImportError, ValueError):
        return False


def _saved_meta(path: Path) -> dict:
    """The scheme and config a saved system records beside its weights."""
    meta_file = path / SYSTEM_FILE
    if not meta_file.is_file():
        raise ModelNotFoundError(f"{path}: no saved system here ({SYSTEM_FILE} missing)")
    return json.loads(meta_file.read_text())


class NERSystem(ABC):
    name: ClassVar[str] = ""
    description: ClassVar[str] = ""
    # What the run's seed controls inside the system (the harness adds the
    # training subset); the report states it beside the seed-aware tests.
    seed_controls: ClassVar[str] = "nothing: the system is deterministic"
    requires: ClassVar[tuple[str, ...]] = ()
    # Distributions used when present (recorded in provenance beside `requires`).
    optional: ClassVar[tuple[str, ...]] = ()
    Config: ClassVar[type[SystemConfig]] = SystemConfig
    Counters: ClassVar[type[Counters] | None] = None
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
        settings = profile_settings(cls.PROFILES, profile)
        if settings is None:
            raise ConfigError(
                f"system {cls.name!r} has no profile {profile!r}; known: {', '.join(cls.PROFILES)}")
        fields = {f.name for f in dataclasses.fields(cls.Config)}
        unknown = sorted(set(overrides) - fields)
        if unknown:
            raise ConfigError(f"system {cls.name!r} has no config field(s) {unknown}; "
                              f"fields: {', '.join(sorted(fields))}")
        values = dict(settings)
        values.update({k: v for k, v in overrides.items() if v is not None})
        return checked(cls.name, cls.Config(**values))

    @classmethod
    def config_requirements(cls, config: SystemConfig) -> tuple[str, ...]:
        """Import names a config needs beyond `requires` (an optional backend)."""
        return ()

    @classmethod
    def missing_requirements(cls, config: SystemConfig | None = None) -> list[str]:
        needed = cls.requires + (cls.config_requirements(config) if config is not None else ())
        return [m for m in needed if not _importable(m)]

    @classmethod
    def packages(cls) -> tuple[str, ...]:
        """Distributions whose versions a run of this system records."""
        return cls.requires + cls.optional

    # -- the interface --------------------------------------------------
    @abstractmethod
    def train(self, train, validation, workdir: Path | None = None) -> list[dict]:
        """Fit on `train` (a datasets.Dataset with tokens/tags); return one
        `epoch_record` per epoch, scored on `validation`.  `workdir` is this
        run's checkpoint folder, which the system owns (see `finish_training`)."""

    @abstractmethod
    def predict(self, sentences: Sequence[Sequence[str]], *,
                show_progress: bool = False) -> list[list[str]]:
        """One scheme tag per input token, for every sentence."""

    def finish_training(self, workdir: Path) -> None:
        """Called once the trained system is saved: checkpoints are no longer
        needed for resuming (they are large for bert-base), so by default the
        folder goes."""
        shutil.rmtree(workdir, ignore_errors=True)

    def save(self, path: Path) -> None:
        """Write what `load` needs.  The default stores the config only."""
        path = Path(path)
        path.mkdir(parents=True, exist_ok=True)
        (path / SYSTEM_FILE).write_text(json.dumps({
            "system": self.name,
            "scheme": self.scheme.name,
            "scheme_spec": self.scheme.to_dict(),
            "config": dataclasses.asdict(self.config),
        }, indent=2))

    @classmethod
    def load(cls, path: Path, config: SystemConfig | None = None,
             scheme: LabelScheme | None = None) -> "NERSystem":
        """The saved system; with `config`, its prediction settings replace the
        saved ones (the trained state is the same).  The label scheme is the one
        saved with it, or `scheme` (a system saved before schemes were stored)."""
        meta = _saved_meta(Path(path))
        if scheme is None and "scheme_spec" not in meta:
            raise ConfigError(f"{path}: saved without its label scheme ({meta.get('scheme')}); "
                              f"load it with the benchmark's scheme")
        scheme = scheme or LabelScheme.from_dict(meta["scheme_spec"])
        system = cls(scheme, config or cls.Config.from_saved(meta["config"]))
        system._load_weights(Path(path))
        return system

    @classmethod
    def saved_config(cls, path: Path) -> SystemConfig:
        """The config the system saved at `path` was trained and saved with."""
        return cls.Config.from_saved(_saved_meta(Path(path))["config"])

    def _load_weights(self, path: Path) -> None:
        """Restore trained state from `path` (systems with weights override)."""

    # -- what a run records besides the tags -----------------------------
    def prediction_stats(self) -> Counters | None:
        """Counters since the last `reset_stats` (a generative system counts
        malformed and hallucinated items and generated tokens)."""
        return None

    def reset_stats(self) -> None:
        """Zero the counters of `prediction_stats`."""

    def flops_done(self) -> float | None:
        """Model FLOPs of every `predict` so far (`roofline.TransformerShape`
        counts them), for the achieved GFLOP/s of a latency row; None where
        the system does not count them."""
        return None

    def raw_outputs(self) -> list[dict] | None:
        """What the last `predict` call produced before it became tags, one dict
        per sentence (a generative system: its answer and the parser's
        complaints), saved beside the predictions; None for systems whose
        output is the tags."""
        return None

    def runtime_info(self) -> dict:
        """Device, dtype, threads and batch size, for the latency table."""
        return {"device": "cpu", "batch_size": self.config.batch_size}

    @classmethod
    def report_sections(cls, counters: dict | None) -> list[ReportSection]:
        """Extra tables for the report, from a finished run's saved counters.
        A class method, so reports are rebuilt without loading the model."""
        if not counters or cls.Counters is None:
            return []
        record = cls.Counters(**counters)
        fields = dataclasses.fields(record)
        headers = [f.metadata.get("label", f.name.replace("_", " ")) for f in fields]
        return [ReportSection(record.title, headers, [[getattr(record, f.name) for f in fields]],
                              record.legend)]
