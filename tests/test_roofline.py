"""FLOPs counted from a model's shape against torch's own FLOP counter, and
the achieved GFLOP/s and share of peak in the latency rows."""
import pytest

torch = pytest.importorskip("torch")
pytest.importorskip("transformers")

from torch.utils.flop_counter import FlopCounterMode

from harness.measure.roofline import TransformerShape, peak, precision_of
from systems.llm.decoding.cache import returned_cache, with_cache
from tiny_models import tiny_bert_folder, tiny_llama_folder


def torch_flops(fn) -> int:
    with FlopCounterMode(display=False) as counter:
        fn()
    return counter.get_total_flops()


@pytest.fixture(scope="module")
def tiny_bert(tmp_path_factory):
    from transformers import AutoModelForTokenClassification

    folder = tiny_bert_folder(tmp_path_factory.mktemp("bert"))
    return AutoModelForTokenClassification.from_pretrained(
        folder, num_labels=5, attn_implementation="eager").eval()


@pytest.fixture(scope="module")
def tiny_llama(tmp_path_factory):
    from transformers import AutoModelForCausalLM, AutoTokenizer

    folder = tiny_llama_folder(tmp_path_factory.mktemp("llama"), ["Ada met the New York"])
    model = AutoModelForCausalLM.from_pretrained(folder, attn_implementation="eager").eval()
    return model, AutoTokenizer.from_pretrained(folder)


def dense_causal_excess(shape: TransformerShape, n: int) -> float:
    """What a dense attention kernel computes beyond the causal positions for
    an n-token prompt with no cache: scores and values for the masked half."""
    return 4.0 * shape.layers * shape.attention_width * (n * n - n * (n + 1) / 2)


def test_encoder_flops_are_torch_counted_flops(tiny_bert):
    shape = TransformerShape.of(tiny_bert, causal=False)
    assert shape.head_params == 0 and shape.attention_width == 32 and shape.layers == 2
    for n in (3, 11):
        ids = torch.randint(5, 20, (1, n))
        counted = torch_flops(lambda: tiny_bert(input_ids=ids))
        assert shape.tokens_flops(n) == pytest.approx(counted, rel=1e-9)


def test_causal_prefill_and_step_flops(tiny_llama):
    model, _ = tiny_llama
    shape = TransformerShape.of(model, causal=True)
    assert shape.head_params == model.config.vocab_size * 32
    n = 9
    ids = torch.randint(3, 50, (1, n))
    with torch.inference_mode():
        out = model(input_ids=ids, use_cache=True)
        prefill = torch_flops(lambda: model(input_ids=ids, logits_to_keep=1))
        step = torch_flops(lambda: model(**with_cache(model, returned_cache(out),
                                                      input_ids=ids[:, :1], use_cache=True)))
    assert shape.tokens_flops(n, outputs=1) + dense_causal_excess(shape, n) == pytest.approx(prefill)
    # One token against n cached ones: no masked work, so the counts agree exactly.
    assert shape.tokens_flops(1, n) == pytest.approx(step, rel=1e-9)


def test_a_merged_adapters_matrices_are_not_counted(tmp_path):
    """Merged, a LoRA adapter's A and B do not run: the count is the base
    model's, and it matches torch's; unmerged they run and are counted."""
    peft = pytest.importorskip("peft")
    from transformers import AutoModelForCausalLM

    folder = tiny_llama_folder(tmp_path, ["Ada met the New York"])
    base = AutoModelForCausalLM.from_pretrained(folder, attn_implementation="eager").eval()
    plain = TransformerShape.of(base, causal=True)
    model = peft.get_peft_model(base, peft.LoraConfig(r=4, target_modules="all-linear"))
    unmerged = TransformerShape.of(model, causal=True)
    model.merge_adapter()
    merged = TransformerShape.of(model, causal=True)
    assert merged == plain and unmerged.matmul_params > plain.matmul_params
    ids = torch.randint(3, 50, (1, 1))
    with torch.inference_mode():
        counted = torch_flops(lambda: model(input_ids=ids))
    assert merged.tokens_flops(1) == pytest.approx(counted, rel=1e-9)


@pytest.mark.parametrize("bound", [2, 40])   # stopped by its bound, or free to end itself
def test_decoder_counts_the_flops_of_its_forward_passes(tiny_llama, bound, monkeypatch):
    from systems.llm.decoding import step as llm_step
    from systems.llm.decoding.decoders import get_decoder

    # On a CPU a lone row is doubled for its products (`llm_step.weight_first_product`):
    # faster, but twice the arithmetic, which torch counts and the model's work does not.
    monkeypatch.setattr(llm_step, "weight_first_product", lambda w, x: torch.mm(w, x.t()).t())
    model, tokenizer = tiny_llama
    prompt = tokenizer("Ada met the New York")["input_ids"]
    with FlopCounterMode(display=False) as counter:
        decoded = get_decoder("free").decode(model, tokenizer, [prompt], [bound], batch_size=1)
    shape = TransformerShape.of(model, causal=True)
    # One prompt: its all-but-last tokens are the shared prefix, computed densely.
    expected = counter.get_total_flops() - dense_causal_excess(shape, len(prompt) - 1)
    assert decoded.prefill_flops + decoded.decode_flops == pytest.approx(expected, rel=1e-9)
    assert decoded.decode_flops > 0


def test_peak_is_measured_in_the_precision_asked_for():
    fp32 = peak("fp32", "cpu", size=256)
    assert fp32["gflops"] > 0 and fp32["precision"] == "fp32" and "torch.matmul" in fp32["method"]
    int8 = peak("int8", "cpu", size=256)
    assert int8["gflops"] > 0 and int8["method"].split(",")[0] in (
        "torch dynamic int8 Linear (fbgemm)", "onnxruntime MatMulInteger")
    assert [precision_of(d) for d in ("float32", "int8 (dynamic)", "nf4+bfloat16")] == \
        ["fp32", "int8", "bf16"]


def test_latency_rows_give_gflops_and_the_share_of_peak(tmp_path):
    from harness.data.multinerd import get_scheme
    from harness.reporting.reports import latency_table
    from harness.run.runner import LatencyProtocol, time_latency
    from systems.encoder.tagger import EncoderTagger

    system = EncoderTagger(get_scheme("B"), EncoderTagger.make_config("offline", eval_batch_size=4))
    system._build(str(tiny_bert_folder(tmp_path / "bert")))
    sentences = [["ada", "lived", "in", "london", "."], ["she", "ate", "pizza"]] * 4
    rows = time_latency(system, sentences, LatencyProtocol(timed_batches=3, warmup_batches=1,
                                                           pool_size=8))
    assert [(r["batch_size"], r["warmup_batches"], r["timed_batches"]) for r in rows] == \
        [(1, 1, 3), (4, 1, 3)]
    for row in rows:
        assert row["gflops_per_s"] > 0
        assert row["share_of_peak"] == pytest.approx(row["gflops_per_s"] / row["peak"]["gflops"])
        assert row["peak"]["precision"] == "fp32"
    text = latency_table(rows, system.runtime_info())
    assert "GFLOP/s" in text and "share of peak" in text and "peak:" in text


def test_systems_that_do_not_count_leave_the_columns_out():
    from harness.reporting.reports import latency_table

    row = {"batch_size": 1, "sentences_per_s": 2.0, "sentences_per_s_ci95": [1.5, 2.5],
           "words_per_s": 40.0, "ms_per_sentence_mean": 500.0, "ms_per_sentence_p50": 480.0,
           "ms_per_sentence_p95": 700.0, "timed_batches": 30, "warmup_batches": 2,
           "peak_rss_mb": 900.0}
    assert "GFLOP/s" not in latency_table([row], {"device": "cpu"})

