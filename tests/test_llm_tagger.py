"""One short training run of the LLM tagger on a tiny random Llama (no download)."""
import pytest

pytest.importorskip("torch")
pytest.importorskip("transformers")
pytest.importorskip("peft")

import dataclasses
import sys

from conftest import ROOT
from harness.core import get_system
from harness.data.multinerd import SCHEMES
from harness.evaluation.metrics import score
from systems.llm.decoding.decoders import get_decoder
from systems.llm.formats import formats, get_format
from tests_support.readme_examples import ensure_prompt_format_registered
from tiny_models import nf4_unavailable, tiny_llama_folder

ensure_prompt_format_registered()   # the README's format trains like the shipped ones

# transformers' one-at-a-time `generate`, the reference the decoder must match,
# lives with the speed script that compares the two.
sys.path.insert(0, str(ROOT / "benchmarks"))
from compare_generation import generate_reference  # noqa: E402


@pytest.mark.parametrize("fmt", formats())
def test_one_epoch_smoke_run(tmp_path, tiny_split, fmt):
    corpus = []
    for toks, tags in zip(tiny_split["tokens"], tiny_split["tags"]):
        corpus += [get_format(fmt).instruction(toks, SCHEMES["B"]),
                   get_format(fmt).answer(toks, tags), "[INST] [/INST]"]
    folder = tiny_llama_folder(tmp_path / "tiny-llama", corpus)
    cls = get_system("llm")
    cfg = cls.make_config("offline", model=str(folder), prompt_format=fmt, epochs=1,
                          batch_size=2, lora_r=4, lora_alpha=8, quantization="none",
                          eval_batch_size=2, eval_generate_limit=2)
    system = cls(SCHEMES["B"], cfg)
    history = system.train(tiny_split, tiny_split, workdir=tmp_path / "ckpt")
    assert len(history) == 1
    h = history[0]
    assert h["train_loss"] > 0 and h["eval_loss"] > 0 and h["f1"] is not None
    assert any("LoRA r=4" in n for n in system.notes)
    assert any("fp32" in n for n in system.notes)  # no CUDA here: the fallback is stated
    # The adapter was saved at the epoch's end.
    assert list((tmp_path / "ckpt").glob("checkpoint-*/adapter_model.safetensors"))

    sentences = list(tiny_split["tokens"])
    pred = system.predict(sentences)
    assert [len(p) for p in pred] == [len(s) for s in sentences]
    stats = system.prediction_stats()
    assert stats.sentences == 3 and stats.generated_tokens >= 3
    assert stats.output_tokens() == stats.generated_tokens
    # An untrained model writes junk: counted, never raised.
    assert stats.malformed_items >= 0 and stats.hallucinated_entities >= 0
    # The raw answers and the parser's complaints are kept, one per sentence,
    # for the predictions file.
    raw = system.raw_outputs()
    assert [r["answer"] for r in raw] == system.generate(sentences, batch_size=3)
    assert sum(bool(r["problems"]) for r in raw) == stats.sentences_with_problems

    # Batched and one-at-a-time generation give the same answers, and both
    # match transformers' own generate, one sentence at a time.
    batched = system.generate(sentences, batch_size=3)
    assert batched == [system.generate([s], batch_size=1)[0] for s in sentences]
    assert batched == generate_reference(system, sentences)
    # Prompts run through the model in passes narrower than the batch (each
    # pass cut to its own width, its cache laid back into the batch's) decode
    # the same answers.
    system.config = dataclasses.replace(system.config, prefill_batch_size=1)
    assert system.generate(sentences, batch_size=3) == batched
    system.config = dataclasses.replace(system.config, prefill_batch_size=None)
    # After training the adapter stays folded into the fp32 base for decoding;
    # saving writes the adapter alone, unchanged.
    assert any(getattr(m, "merged", False) for m in system.model.modules())
    # Decoding inside training (per-epoch validation) leaves it unmerged, so
    # the adapter goes on learning.
    assert system.generate(sentences, batch_size=3, keep_merged=False) == batched
    assert not any(getattr(m, "merged", False) for m in system.model.modules())

    system.save(tmp_path / "saved")
    again = cls.load(tmp_path / "saved")
    assert again.predict(sentences) == pred

    # The constrained decoder writes only answers that parse: nothing malformed,
    # nothing outside the sentence, even from an undertrained model.
    if get_format(fmt).grammar(["a"], SCHEMES["B"]) is not None:
        again.decoder = get_decoder("constrained")
        again.reset_stats()
        again.predict(sentences)
        counted = again.prediction_stats()
        assert counted.malformed_items == 0 and counted.hallucinated_entities == 0
        assert all(get_format(fmt).grammar(s, SCHEMES["B"]).accepts(r["answer"])
                   for s, r in zip(sentences, again.raw_outputs()))


def test_constrained_decoding_needs_a_format_with_a_grammar():
    cls = get_system("llm")
    cfg = cls.make_config("offline", prompt_format="json", decoding="constrained")
    with pytest.raises(ValueError, match="needs a prompt format with a grammar"):
        cls(SCHEMES["B"], cfg)


def test_unknown_prompt_format():
    cls = get_system("llm")
    with pytest.raises(ValueError, match="unknown prompt format 'yaml'"):
        cls(SCHEMES["B"], cls.make_config("offline", prompt_format="yaml"))


def test_prefill_batch_size_must_be_positive():
    cls = get_system("llm")
    for rows in (0, -16):
        with pytest.raises(ValueError, match=f"field 'prefill_batch_size' = {rows}: must be at least 1"):
            cls(SCHEMES["B"], cls.make_config("offline", prefill_batch_size=rows))


def test_decoding_scripts_take_a_profiles_generation_batch_over_the_saved_one():
    """A model saved before its profile's generation batch changed keeps the
    old values; --profile gives the profile's, and the flags still win."""
    import argparse

    from _common import add_generation_args, apply_generation_args

    cls = get_system("llm")
    offline = cls.make_config("offline")
    saved = dataclasses.replace(offline, eval_batch_size=16, prefill_batch_size=None)
    ap = argparse.ArgumentParser()
    add_generation_args(ap)
    for argv, expected in (([], (16, None)),
                           (["--profile", "offline"],
                            (offline.eval_batch_size, offline.prefill_batch_size)),
                           (["--profile", "offline", "--batch-size", "32",
                             "--prefill-batch-size", "0"], (32, None))):
        system = cls(SCHEMES["B"], saved)
        apply_generation_args(system, ap.parse_args(argv))
        assert (system.config.eval_batch_size, system.config.prefill_batch_size) == expected
    assert (offline.eval_batch_size, offline.prefill_batch_size) != (16, None)


def test_qlora_path_nf4_base(tmp_path, tiny_split):
    """The 4-bit path (nf4 base, prepare_model_for_kbit_training, LoRA) trains,
    saves and reloads; bitsandbytes >= 0.49 runs it on the CPU too."""
    reason = nf4_unavailable()
    if reason:
        pytest.skip(reason)
    fmt = "wordtag"
    corpus = [get_format(fmt).instruction(t, SCHEMES["B"]) for t in tiny_split["tokens"]]
    # 64 wide: bitsandbytes' CPU kernels (on AVX512-BF16 machines) repack 4-bit
    # weights in blocks of 64 input features, so narrower layers cannot run there.
    folder = tiny_llama_folder(tmp_path / "tiny-llama", corpus + ["[INST] [/INST]"], width=64)
    cls = get_system("llm")
    # Two epochs: training goes on after the first epoch's validation decoding,
    # which is when bitsandbytes may repack the 4-bit weights for CPU inference.
    cfg = cls.make_config("offline", model=str(folder), epochs=2, batch_size=2, lora_r=4,
                          lora_alpha=8, quantization="nf4", eval_batch_size=2,
                          eval_generate_limit=2)
    system = cls(SCHEMES["B"], cfg)
    history = system.train(tiny_split, tiny_split, workdir=tmp_path / "ckpt")
    assert history[0]["train_loss"] > 0
    assert any("4-bit nf4" in n for n in system.notes)
    assert system.runtime_info()["dtype"].startswith("nf4+")
    import bitsandbytes as bnb

    q_proj = system.model.base_model.model.model.layers[0].self_attn.q_proj
    assert isinstance(q_proj.base_layer, bnb.nn.Linear4bit)
    sentences = list(tiny_split["tokens"])
    pred = system.predict(sentences)
    system.save(tmp_path / "saved")
    again = cls.load(tmp_path / "saved")
    assert again.predict(sentences) == pred
    # Decoding from a dequantized copy with the adapter folded in: one product a layer.
    folded = cls.load(tmp_path / "saved", dataclasses.replace(
        cls.saved_config(tmp_path / "saved"), quantized_decoding="dequantized"))
    assert [len(p) for p in folded.predict(sentences)] == [len(s) for s in sentences]
    assert "dequantized" in folded.runtime_info()["lora"]
    assert all(getattr(m, "runs_folded", False) for m in folded.model.modules()
               if hasattr(m, "lora_A"))


@pytest.mark.parametrize("cuda", [False, True])
def test_a_full_precision_base_is_placed_on_the_gpu_when_there_is_one(monkeypatch, cuda):
    """Loading a saved tagger for prediction must not leave an fp32 base on the
    CPU beside an idle GPU (only training, through the Trainer, moved it)."""
    import torch

    from systems.llm import lora as llm_lora

    monkeypatch.setattr(torch.cuda, "is_available", lambda: cuda)
    notes: list[str] = []
    kwargs = llm_lora._load_kwargs(False, notes)
    assert kwargs["dtype"] is torch.float32
    assert kwargs.get("device_map") == ({"": 0} if cuda else None)
    assert ("no CUDA" in notes[0]) is not cuda


def test_under_torchrun_each_process_decodes_its_share_of_the_validation(monkeypatch,
                                                                          tiny_split):
    """Validation decoding at an epoch's end is split across the processes and
    gathered back in order, so every process scores all of it once."""
    from harness.core import distributed

    cls = get_system("llm")
    system = cls(SCHEMES["B"], cls.make_config("offline", quantization="none",
                                               eval_generate_limit=3))
    sentences = list(tiny_split["tokens"])[:3]
    decoded = []

    def tags_of(tokens, keep_merged=True):
        decoded.append(list(tokens))
        return [["O"] * len(t) for t in tokens]

    monkeypatch.setattr(system, "_tags", tags_of)
    model = type("Model", (), {"train": lambda self: None})()
    system.weights = type("Weights", (), {"model": model})()
    monkeypatch.setenv("WORLD_SIZE", "2")
    monkeypatch.setenv("RANK", "1")
    other = tags_of(sentences[0::2])          # what rank 0 decodes
    monkeypatch.setattr(distributed, "all_objects", lambda mine: [other, mine])
    decoded.clear()
    scores = system._validation_scorer(tiny_split)(None)
    assert decoded == [sentences[1::2]]       # this process: its share only
    expected = score(list(tiny_split["tags"])[:3], [["O"] * len(t) for t in sentences])
    assert scores["gen_f1"] == expected["f1"]
