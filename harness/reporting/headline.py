"""The headline: one main contender per system, at its largest training size,
and the variants and ablations (other sizes, decoders, backends, encoders)
apart, each labelled by what differs from its system's main contender."""
from __future__ import annotations

import dataclasses

from harness.core.registry import find_system
from harness.evaluation.aggregates import aggregate
from harness.reporting.published import Seeded, representative

# Fields that differ between any two runs without making them different systems.
_NOT_A_DIFFERENCE = {"seed"}


def main_contenders(seeded: dict[str, Seeded]) -> dict[str, str]:
    """{system: its main contender}: the run named after the system where there
    is one, else the one with the most training sentences (then the best F1)."""
    by_system: dict[str, list[str]] = {}
    for name, s in seeded.items():
        by_system.setdefault(representative(s).system, []).append(name)
    out = {}
    for system, names in sorted(by_system.items()):
        out[system] = system if system in names else max(names, key=lambda n: (
            representative(seeded[n]).train_sentences, aggregate(seeded[n]).mean))
    return out


def differences(variant: Seeded, main: Seeded) -> str:
    """What a variant changes against its system's main contender: training
    sentences, profile and the config fields both runs record."""
    v, m = representative(variant), representative(main)
    parts = []
    if v.train_sentences != m.train_sentences:
        parts.append(f"{v.train_sentences:,} training sentences" if v.history
                     else "not trained")
    if v.spec["profile"] != m.spec["profile"]:
        parts.append(f"profile {v.spec['profile']}")
    cv, cm = v.spec["system_config"], {**_defaults(m.system), **m.spec["system_config"]}
    parts += [f"{k} {cv[k]}" for k in sorted(cv.keys() & cm.keys())
              if cv[k] != cm[k] and k not in _NOT_A_DIFFERENCE]
    if set(variant) != set(main):
        parts.append(f"seed{'s' if len(variant) > 1 else ''} {', '.join(map(str, variant))}")
    return ", ".join(parts) or "nothing recorded"


def _defaults(system: str) -> dict:
    """The config defaults of a system installed here: what a run recorded
    before a field existed ran with."""
    cls = find_system(system)
    return {f.name: f.default for f in dataclasses.fields(cls.Config)
            if f.default is not dataclasses.MISSING} if cls else {}


def split(seeded: dict[str, Seeded]) -> tuple[dict[str, Seeded], dict[str, tuple[Seeded, str, str]]]:
    """(main contenders, {variant: (its seeds, its main contender, what differs)})."""
    mains = main_contenders(seeded)
    main_names = set(mains.values())
    variants = {}
    for name, s in seeded.items():
        if name not in main_names:
            main = mains[representative(s).system]
            variants[name] = (s, main, differences(s, seeded[main]))
    return {n: seeded[n] for n in seeded if n in main_names}, variants
