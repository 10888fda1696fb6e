"""Shared set-up of the speed suites and comparison scripts.

They run against the installed package (`pip install -e .` or the tox
environment) and read the real data from $HARNESS_DATA, as the harness does.
"""
from __future__ import annotations

import os
import time
from pathlib import Path


def data_folder() -> Path | None:
    """The local MultiNERD English folder, or None when $HARNESS_DATA is unset or absent."""
    folder = os.environ.get("HARNESS_DATA")
    return Path(folder) if folder and Path(folder).is_dir() else None


def require_data_folder() -> Path:
    folder = data_folder()
    if folder is None:
        raise SystemExit("set HARNESS_DATA to a local MultiNERD English folder "
                         "(for example ../shared/data/multinerd-en-subset)")
    return folder


def real_test_sentences(n: int, scheme_name: str = "B") -> tuple[list[list[str]], list[list[str]]]:
    """The first `n` test sentences of the local data, tags in the scheme
    (`n` 0: the whole split, as every script's `--sentences 0`)."""
    from harness.data.multinerd import load_local
    from harness.data.multinerd import get_scheme

    split = load_local(require_data_folder()).splits["test"]
    scheme = get_scheme(scheme_name)
    end = n or None
    tokens = split.tokens[:end]
    return tokens, [[scheme.map_tag(t) for t in tags] for tags in split.tags[:end]]


def real_train_and_validation(train_sentences: int, validation_sentences: int,
                              scheme_name: str = "B"):
    """(scheme, train, validation) of the local data as the harness sees them:
    a seeded subset of the training split and the head of the validation split."""
    from harness.data.corpus import subsample_indices, to_scheme
    from harness.data.multinerd import load_local
    from harness.data.multinerd import get_scheme

    data = load_local(require_data_folder())
    scheme = get_scheme(scheme_name)
    train = to_scheme(data.splits["train"], scheme,
                      subsample_indices(len(data.splits["train"]), train_sentences, 0))
    validation = to_scheme(data.splits["validation"], scheme, list(range(validation_sentences)))
    return scheme, train, validation


def interleaved(fns, repeats: int = 5, warmup: bool = True) -> list[float]:
    """Best wall time of each function, timed in turn `repeats` times (after one
    warm-up call each, unless the caller has just run them), so that drift in
    the machine's speed hits all alike."""
    for fn in fns if warmup else ():
        fn()
    best = [float("inf")] * len(fns)
    for _ in range(repeats):
        for i, fn in enumerate(fns):
            t0 = time.perf_counter()
            fn()
            best[i] = min(best[i], time.perf_counter() - t0)
    return best


def decode_with(system, decoder, sentences) -> dict:
    """One decoder (an object, or a registered name) of an LLM tagger over
    `sentences`: its tags, raw answers and counters."""
    if isinstance(decoder, str):
        from systems.llm.decoding.decoders import get_decoder

        decoder = get_decoder(decoder)
    system.decoder = decoder
    system.reset_stats()
    tags = system.predict(sentences)
    return {"tags": tags, "answers": [r["answer"] for r in system.raw_outputs()],
            "counters": system.prediction_stats()}


GENERATION_FIELDS = ("eval_batch_size", "prefill_batch_size")   # inference-only batch settings


def saved_tagger_parser(sentences: int, repeats: int | None = 2, batch_size: bool = True):
    """The arguments of a script that decodes a saved LLM tagger: --model,
    --sentences, --repeats (unless None) and `add_generation_args`."""
    import argparse

    ap = argparse.ArgumentParser()
    ap.add_argument("--model", required=True, help="a saved llm system folder (runs/.../model)")
    ap.add_argument("--sentences", type=int, default=sentences, help="0: the whole test split")
    if repeats is not None:
        ap.add_argument("--repeats", type=int, default=repeats)
    add_generation_args(ap, batch_size)
    return ap


def add_generation_args(ap, batch_size: bool = True) -> None:
    """--quantization, --profile, --batch-size and --prefill-batch-size for the
    scripts that decode a saved LLM tagger."""
    ap.add_argument("--quantization", choices=("auto", "nf4", "none"), default=None,
                    help="load the base this way rather than as saved (auto: nf4 on CUDA); "
                         "none keeps a saved CPU model in fp32 on a GPU")
    ap.add_argument("--quantized-decoding", choices=("beside", "dequantized"), default=None,
                    help="with a 4-bit base: decode with the adapter beside the 4-bit layers, "
                         "or from a dequantized copy with the adapter folded in")
    ap.add_argument("--profile", default=None,
                    help="take the generation batch and prompt pass of this profile (e.g. offline) "
                         "rather than the saved config's, which keeps the values it was trained "
                         "under; the flags below still win")
    if batch_size:
        ap.add_argument("--batch-size", type=int, default=None,
                        help="generation batch (default: the saved config's eval_batch_size)")
    ap.add_argument("--prefill-batch-size", type=int, default=None,
                    help="rows per prompt pass (default: the saved config's; 0: the whole batch)")


def saved_scheme(folder: str):
    """The MultiNERD scheme a system was saved with (saves made before schemes
    were stored name theirs only)."""
    import json

    from harness.core.system import SYSTEM_FILE
    from harness.data.multinerd import get_scheme

    return get_scheme(json.loads((Path(folder) / SYSTEM_FILE).read_text())["scheme"])


def load_llm_tagger(folder: str, args):
    """The saved LLM tagger at `folder`, its base loaded as --quantization and
    --quantized-decoding say."""
    import dataclasses

    from systems.llm.tagger import LLMTagger

    asked = {field: getattr(args, field, None) for field in ("quantization", "quantized_decoding")}
    asked = {field: value for field, value in asked.items() if value is not None}
    if not asked:
        return LLMTagger.load(folder, scheme=saved_scheme(folder))
    return LLMTagger.load(folder, dataclasses.replace(LLMTagger.saved_config(folder), **asked),
                          scheme=saved_scheme(folder))


def apply_generation_args(system, args) -> None:
    """The saved LLM tagger's generation settings, as --profile and the
    command line override them."""
    import dataclasses

    from harness.core.errors import ConfigError

    changes = {}
    if getattr(args, "profile", None):
        try:
            profiled = type(system).make_config(args.profile)
        except ConfigError as err:
            raise SystemExit(f"--profile: {err}") from None
        changes.update({f: getattr(profiled, f) for f in GENERATION_FIELDS})
    if getattr(args, "batch_size", None) is not None:
        changes["eval_batch_size"] = args.batch_size
    if args.prefill_batch_size is not None:
        changes["prefill_batch_size"] = args.prefill_batch_size or None
    system.config = dataclasses.replace(system.config, **changes)
