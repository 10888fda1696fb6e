"""Config values checked before anything loads: each field against its type,
and a field with a range (epochs, rates, sizes, thresholds) against it (a
value equal to the field's default in the system's own config class always
stands, so a zero-shot system keeps epochs 0), so a
bad `--set` is a one-line error naming the system and the field instead of a
traceback from inside a library, or a run that silently trains nothing."""
from __future__ import annotations

import dataclasses
import math
import types
import typing

from harness.core.errors import ConfigError

# field name -> (lowest, highest, whether the lowest is allowed)
RANGES: dict[str, tuple[float, float, bool]] = {
    **{name: (1, math.inf, True) for name in (
        "epochs", "batch_size", "eval_batch_size", "eval_generate_limit", "eval_limit",
        "eval_loss_limit", "gradient_accumulation_steps", "lora_alpha", "lora_r", "max_length",
        "max_width", "prefill_batch_size", "tensor_parallel_size", "train_batch_start",
        "train_batch_stop", "width", "window_words")},
    **{name: (0, math.inf, True) for name in (
        "shots", "seed", "weight_decay", "warmup_steps", "focal_loss_gamma", "threshold")},
    **{name: (0, math.inf, False) for name in ("learning_rate", "head_learning_rate")},
    **{name: (0, 1, True) for name in ("warmup_ratio", "focal_loss_alpha")},
    "dropout": (0, 1 - 1e-9, True), "lora_dropout": (0, 1 - 1e-9, True),
}


def _accepts(hint, value) -> tuple[bool, object]:
    """(does `value` fit the annotation, the value as stored): an int is a
    float's value too (kept an int, so run hashes stay as they were); a bool
    is never an int."""
    options = typing.get_args(hint) if isinstance(hint, types.UnionType) or \
        typing.get_origin(hint) is typing.Union else (hint,)
    for option in options:
        if option is type(None) and value is None:
            return True, None
        if option is bool and isinstance(value, bool):
            return True, value
        if option is int and isinstance(value, int) and not isinstance(value, bool):
            return True, value
        if option is float and isinstance(value, (int, float)) and not isinstance(value, bool):
            return True, value   # kept as given: a run's hash holds the value as written
        if option is str and isinstance(value, str):
            return True, value
        if option not in (type(None), bool, int, float, str):
            return True, value   # a type this check does not know: left to the system
    return False, value


def _type_name(hint) -> str:
    return str(hint).replace("<class '", "").replace("'>", "").replace("NoneType", "None")


def _check_range(system: str, name: str, value) -> None:
    low, high, closed = RANGES[name]
    if not isinstance(value, (int, float)) or isinstance(value, bool):
        return
    if value < low or (value == low and not closed) or value > high:
        bound = (f"at least {low:g}" if closed else f"above {low:g}") if high == math.inf \
            else f"between {low:g} and {high:g}"
        raise ConfigError(f"system {system!r}: field {name!r} = {value!r}: must be {bound}")


def checked(system: str, config):
    """`config` with every field checked; raises ConfigError naming the
    system and the field."""
    hints = typing.get_type_hints(type(config))
    values = {}
    for f in dataclasses.fields(config):
        value = getattr(config, f.name)
        ok, value = _accepts(hints.get(f.name, object), value)
        if not ok:
            raise ConfigError(f"system {system!r}: field {f.name!r} = {value!r}: expected "
                              f"{_type_name(hints[f.name])}")
        if f.name in RANGES and value is not None and value != f.default:
            _check_range(system, f.name, value)   # a system's own default stands (epochs 0: zero-shot)
        values[f.name] = value
    return dataclasses.replace(config, **values)
