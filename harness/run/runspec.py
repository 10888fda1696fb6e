"""The frozen description of one run, and the folder keyed by its hash.

As in HELM, the spec is written next to every result so each number traces
back to exactly what produced it.  The hash covers what determines the
result (system, config, scheme, data content, subsets, seed), so re-running
the same spec finds and reuses finished work.
"""
from __future__ import annotations

import hashlib
import json
from dataclasses import asdict, dataclass, field
from pathlib import Path

SPEC_VERSION = 1


@dataclass(frozen=True)
class RunSpec:
    benchmark: str
    scheme_types: tuple[str, ...]
    system: str
    profile: str
    system_config: dict
    data_fingerprint: str
    train_limit: int | None
    eval_limit: int | None
    seed: int
    spec_version: int = SPEC_VERSION
    # Processes that trained together (torchrun): the global batch is this times
    # the config's; hashed only when above one, so single-process runs keep their hash.
    world_size: int = 1
    # The seed of the validation and test subsets when it is not the run's own
    # (several seeds score on the first seed's subsets); hashed only when set.
    eval_seed: int | None = None
    # Recorded but not hashed: the same content in another folder, or on
    # another machine, is the same work.
    data_source: str = field(default="", compare=False)
    environment: dict = field(default_factory=dict, compare=False)
    # Config fields added later, at the default that reproduces earlier runs:
    # left out of the hash so that those runs keep theirs (SystemConfig.unhashed_fields).
    unhashed: tuple[str, ...] = field(default=(), compare=False)
    # Config fields used only when predicting: runs that differ in nothing
    # else share a training digest, and so one trained model.
    inference: tuple[str, ...] = field(default=(), compare=False)
    # Fields the config no longer has, at the value earlier runs hashed
    # (SystemConfig.retired): in the hash, not in the recorded config.
    retired: dict = field(default_factory=dict, compare=False)

    def hashed_fields(self, leave_out: tuple[str, ...] = ()) -> dict:
        d = asdict(self)
        for key in ("environment", "data_source", "unhashed", "inference", "retired"):
            d.pop(key)
        if d["world_size"] == 1:
            d.pop("world_size")
        if d["eval_seed"] is None:
            d.pop("eval_seed")
        d["system_config"] = {k: v for k, v in {**self.retired, **d["system_config"]}.items()
                              if k not in self.unhashed and k not in leave_out}
        return d

    @staticmethod
    def _hash(fields: dict) -> str:
        canonical = json.dumps(fields, sort_keys=True, default=str)
        return hashlib.sha256(canonical.encode()).hexdigest()[:16]

    @property
    def digest(self) -> str:
        return self._hash(self.hashed_fields())

    @property
    def training_digest(self) -> str:
        """The digest of what training depends on: the spec without its inference fields."""
        return self._hash(self.hashed_fields(leave_out=self.inference))

    def run_dir(self, runs_root: Path) -> Path:
        return Path(runs_root) / self.benchmark / self.system / self.digest

    def to_dict(self) -> dict:
        d = asdict(self)
        for key in ("unhashed", "inference", "retired"):
            if not d[key]:
                del d[key]
        if d["world_size"] == 1:
            del d["world_size"]
        if d["eval_seed"] is None:
            del d["eval_seed"]
        extra = {"training_digest": self.training_digest} if self.inference else {}
        return d | {"digest": self.digest} | extra
