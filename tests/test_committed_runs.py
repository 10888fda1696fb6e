"""The committed reports still describe runs this code would make: each
result's run spec hashes to the same digest under today's config classes, so
the same command finds (and reuses) those runs instead of redoing them."""
import dataclasses
import json
from pathlib import Path

import pytest

from conftest import ROOT
from harness.core import get_system
from harness.run.runspec import RunSpec

RESULTS = sorted((ROOT / "reports" / "results").rglob("*.json"))   # every seed and curve point


@pytest.mark.parametrize("path", RESULTS, ids=lambda p: p.relative_to(ROOT / "reports" / "results").as_posix())
def test_committed_spec_keeps_its_hash(path: Path):
    spec = json.loads(path.read_text())["spec"]
    cls = get_system(spec["system"])
    retired = cls.Config.retired   # fields the config no longer has: at their one value
    recorded = {k: spec["system_config"][k] for k in retired if k in spec["system_config"]}
    assert recorded == {k: retired[k] for k in recorded}   # runs made since record none
    config = cls.Config.from_saved(spec["system_config"])   # fields added since: defaults
    rebuilt = RunSpec(
        benchmark=spec["benchmark"], scheme_types=tuple(spec["scheme_types"]),
        system=spec["system"], profile=spec["profile"],
        system_config=dataclasses.asdict(config),
        data_fingerprint=spec["data_fingerprint"], train_limit=spec["train_limit"],
        eval_limit=spec["eval_limit"], seed=spec["seed"], eval_seed=spec.get("eval_seed"),
        unhashed=tuple(config.unhashed_fields()), retired=dict(retired))
    assert rebuilt.digest == spec["digest"]


def test_a_changed_new_field_changes_the_hash():
    """Leaving a field out of the hash holds only at its default."""
    cls = get_system("llm")
    specs = [RunSpec("B", ("PER",), "llm", "offline", dataclasses.asdict(c), "x",
                     None, None, 42, unhashed=tuple(c.unhashed_fields()))
             for c in (cls.make_config("offline"), cls.make_config("offline", decoding="other"))]
    assert specs[0].digest != specs[1].digest
    assert "decoding" in specs[0].unhashed and "decoding" not in specs[1].unhashed


def test_there_are_committed_results():
    assert len(RESULTS) >= 4


def test_the_prompted_system_hashes_no_training_field():
    """llm-prompted has no LoRA field: none can be set, so none varies its hash."""
    import dataclasses as dc

    from harness.core.errors import ConfigError

    cls = get_system("llm-prompted")
    names = {f.name for f in dc.fields(cls.Config)}
    assert not names & {"lora_r", "learning_rate", "gradient_accumulation_steps", "max_length",
                        "training_forward", "warmup_steps"}
    with pytest.raises(ConfigError, match="no config field"):
        cls.make_config("offline", lora_r=8)
