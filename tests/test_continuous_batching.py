"""Continuous batching in the generative tagger's decoder: prompts that join a
batch already decoding get the answers they get alone, rows leave at their
end token or bound, and no row is stepped after it leaves."""
import pytest

pytest.importorskip("torch")
pytest.importorskip("transformers")

from systems.llm.decoding import scheduler as llm_decoding
from systems.llm.decoding.decoders import get_decoder
from tiny_models import tiny_llama_folder

TEMPLATE = "Tag the names in: {} Answer:"
SENTENCES = ["Ada", "Ada met York", "the New York Paris met Ada the", "Paris", "New York",
             "met the Ada , Paris ( York )", "York York", "Ada met the New", "the",
             "Paris , New York , Ada and the rest"]


@pytest.fixture(scope="module")
def tiny_llama(tmp_path_factory):
    import torch
    from transformers import AutoModelForCausalLM, AutoTokenizer

    folder = tiny_llama_folder(tmp_path_factory.mktemp("llama"),
                               [TEMPLATE.format(s) for s in SENTENCES])
    torch.manual_seed(0)
    model = AutoModelForCausalLM.from_pretrained(folder).eval()
    with torch.no_grad():   # make the end token likely, so some rows end themselves
        model.lm_head.weight[model.config.eos_token_id] *= 4
    return model, AutoTokenizer.from_pretrained(folder)


def _prompts(tokenizer, sentences):
    return [tokenizer(TEMPLATE.format(s))["input_ids"] for s in sentences]


@pytest.mark.parametrize("batch_size,prefill_rows", [(3, None), (3, 1), (4, 2), (2, 5), (16, None)])
def test_rows_joining_a_running_batch_decode_as_if_alone(tiny_llama, monkeypatch, batch_size,
                                                          prefill_rows):
    model, tokenizer = tiny_llama
    prompts = _prompts(tokenizer, SENTENCES)
    bounds = [1 + (7 * i) % 13 for i in range(len(prompts))]   # rows leave at different steps
    probes = _prompts(tokenizer, ["unrelated words", "more of them"])
    decoder = get_decoder("free")
    alone = [decoder.decode(model, tokenizer, [p], [b], batch_size=1, probes=probes).answers[0]
             for p, b in zip(prompts, bounds)]

    joins = []
    real_joined = llm_decoding._joined
    monkeypatch.setattr(llm_decoding, "_joined", lambda *a: joins.append(1) or real_joined(*a))
    together = decoder.decode(model, tokenizer, prompts, bounds, batch_size=batch_size,
                              probes=probes, prefill_batch_size=prefill_rows)

    assert together.answers == alone
    assert all(len(a) <= b for a, b in zip(alone, bounds))
    assert any(len(a) < b for a, b in zip(alone, bounds)), "no row wrote its end token"
    # Every row is stepped until it writes its end token or fills its bound, never after.
    assert together.generated_tokens == sum(len(a) + (len(a) < b) for a, b in zip(alone, bounds))
    # Rows joined a batch already decoding, unless every prompt fitted in the first.
    assert bool(joins) == (batch_size < len(prompts))


@pytest.mark.parametrize("spare", [0, 1, 3])
def test_answers_hold_when_the_cache_runs_out_of_spare_columns(tiny_llama, monkeypatch, spare):
    """Steps write into spare columns; when they run out the cache regrows
    (every step with none), and the answers are those of rows decoded alone."""
    from systems.llm.decoding import cache as llm_cache

    model, tokenizer = tiny_llama
    prompts = _prompts(tokenizer, SENTENCES)
    bounds = [1 + (7 * i) % 13 for i in range(len(prompts))]
    decoder = get_decoder("free")
    alone = [decoder.decode(model, tokenizer, [p], [b], batch_size=1).answers[0]
             for p, b in zip(prompts, bounds)]
    monkeypatch.setattr(llm_cache, "SPARE_COLUMNS", spare)
    for batch_size, prefill_rows in ((3, None), (4, 2)):
        together = decoder.decode(model, tokenizer, prompts, bounds, batch_size=batch_size,
                                  prefill_batch_size=prefill_rows)
        assert together.answers == alone


@pytest.mark.parametrize("kept,rows", [([0, 1, 2], 5), ([1, 3, 4], 5), ([4], 5), ([0, 2, 3, 5], 6),
                                       ([], 3), ([2, 3], 4)])
def test_rows_that_stay_keep_their_place_and_the_last_fill_the_gaps(kept, rows):
    import torch
    from systems.llm.decoding.cache import _moves_in_place, filled_from_end

    order = filled_from_end(kept)
    assert sorted(order) == sorted(kept)
    assert all(order[j] == j for j in kept if j < len(kept))
    destinations, sources = _moves_in_place(torch.tensor(order, dtype=torch.long))
    assert len(sources) == sum(j >= len(kept) for j in kept)   # one copy per row that moves
    assert _moves_in_place(torch.tensor([1, 0])) is None        # a source overwritten first


def test_the_split_head_gives_the_models_own_logits(tiny_llama):
    import torch
    from systems.llm.decoding.step import split_head, step_logits

    model, tokenizer = tiny_llama
    ids = torch.tensor(_prompts(tokenizer, ["Ada met York"]))
    split = split_head(model)
    assert split is not None
    with torch.inference_mode():
        whole, _ = step_logits(model, None, None, input_ids=ids)
        parts, _ = step_logits(model, split, None, input_ids=ids)
    torch.testing.assert_close(parts, whole)


@pytest.mark.parametrize("rows", [1, 3, 40])
def test_skinny_linears_compute_the_same_products(rows):
    """W·xᵀ (one row doubled) up to SKINNY_ROWS rows, the usual product above."""
    import torch
    from systems.llm.decoding.step import SKINNY_ROWS, _skinny_forward

    assert (rows > SKINNY_ROWS) == (rows == 40)
    torch.manual_seed(0)
    linear = torch.nn.Linear(24, 40, bias=True)
    x = torch.randn(rows, 1, 24)
    out = _skinny_forward(linear, x)
    assert out.shape == (rows, 1, 40) and out.is_contiguous()
    torch.testing.assert_close(out, linear(x))


def test_skinny_linears_leave_the_model_as_it_was(tiny_llama):
    import torch
    from systems.llm.decoding.step import skinny_linears

    model, tokenizer = tiny_llama
    ids = torch.tensor(_prompts(tokenizer, ["Ada met York"]))
    with torch.inference_mode():
        before = model(input_ids=ids).logits
        with skinny_linears(model):
            patched = [m for m in model.modules() if "forward" in vars(m)]
            inside = model(input_ids=ids).logits
        after = model(input_ids=ids).logits
    assert len(patched) == sum(type(m) is torch.nn.Linear for m in model.modules())
    assert not any("forward" in vars(m) for m in model.modules())
    torch.testing.assert_close(inside, before)
    assert torch.equal(after, before)


def test_a_head_that_is_not_a_plain_product_runs_whole(tiny_llama, monkeypatch):
    from systems.llm.decoding.step import split_head

    model, _ = tiny_llama
    monkeypatch.setattr(model.config, "model_type", "gemma2")   # soft-capped logits
    assert split_head(model) is None


def test_a_batch_without_per_layer_caches_refills_only_when_empty(tiny_llama, monkeypatch):
    """Where the cache cannot be laid out row by row, the batch drains before
    the next prompts start (static batching), with the same answers."""
    model, tokenizer = tiny_llama
    prompts = _prompts(tokenizer, SENTENCES)
    bounds = [1 + (5 * i) % 11 for i in range(len(prompts))]
    expected = get_decoder("free").decode(model, tokenizer, prompts, bounds, batch_size=3).answers

    monkeypatch.setattr(llm_decoding, "joinable", lambda cache: False)
    monkeypatch.setattr(llm_decoding, "_joined", lambda *a: pytest.fail("joined without layers"))
    decoded = get_decoder("free").decode(model, tokenizer, prompts, bounds, batch_size=3)
    assert decoded.answers == expected


def test_the_prompt_pass_runs_the_head_as_one_matrix_product(tiny_llama):
    """The head sees each row's last token as one contiguous matrix: on a
    strided slice and frozen weights, torch expands the vocabulary weight per
    row into a batched product (9x slower for 16 rows on 2 CPU cores)."""
    import torch
    from torch.profiler import ProfilerActivity, profile

    model, tokenizer = tiny_llama
    model.requires_grad_(False)   # as a LoRA model's base: torch folds the slice only for weights with grad
    prompts = _prompts(tokenizer, SENTENCES)
    vocab = model.config.vocab_size
    with torch.inference_mode(), profile(activities=[ProfilerActivity.CPU],
                                         record_shapes=True) as prof:
        llm_decoding._start(model, tokenizer, prompts, list(range(4)), (0, None),
                            llm_decoding._argmax, 2, [[] for _ in prompts])
    head = [(e.name, e.input_shapes[:2]) for e in prof.events()
            if e.name in ("aten::mm", "aten::bmm") and e.input_shapes[1][-1:] == [vocab]]
    hidden = model.config.hidden_size
    # Two chunks of two rows: each one matrix product [rows, hidden] x [hidden, vocab].
    assert head == [("aten::mm", [[2, hidden], [hidden, vocab]])] * 2, head


def test_the_cache_goes_in_under_the_name_the_model_takes():
    from systems.llm.decoding.cache import with_cache

    class Renamed:        # transformers from 5.24
        def forward(self, input_ids=None, cache=None):
            pass

    class Older:
        def forward(self, input_ids=None, past_key_values=None):
            pass

    assert with_cache(Renamed(), "kv", input_ids=1) == {"input_ids": 1, "cache": "kv"}
    assert with_cache(Older(), "kv", input_ids=1) == {"input_ids": 1, "past_key_values": "kv"}


def test_decoding_uses_no_deprecated_cache_argument(tiny_llama):
    import warnings

    model, tokenizer = tiny_llama
    prompts = _prompts(tokenizer, SENTENCES[:4])
    with warnings.catch_warnings(record=True) as caught:
        warnings.simplefilter("always")
        get_decoder("free").decode(model, tokenizer, prompts, [6] * len(prompts), batch_size=2,
                                   probes=_prompts(tokenizer, ["Paris"]))
    assert not [w for w in caught if "past_key_values" in str(w.message)]


def test_an_engine_is_one_registered_class(tiny_llama):
    """Adding an LLM engine: one class registered by name.  This one runs
    transformers' own `generate`, one prompt at a time; for free decoding it
    writes the answers of the harness's loop."""
    import torch

    from harness.core.errors import ConfigError
    from systems.llm.decoding.decoders import Decoded, Decoder
    from systems.llm.decoding.flops import decoding_flops
    from systems.llm.engines import ENGINES, register_engine, with_engine
    from systems.llm.engines.base import Engine

    class GenerateDecoder(Decoder):
        name = "generate"

        def decode(self, model, tokenizer, prompts, bounds, *, batch_size, probes=(),
                   grammars=(), show_progress=False, prefill_batch_size=None):
            answers = []
            with torch.inference_mode():
                for prompt, bound in zip(prompts, bounds):
                    ids = torch.tensor([prompt])
                    out = model.generate(input_ids=ids, attention_mask=torch.ones_like(ids),
                                         max_new_tokens=bound, do_sample=False,
                                         eos_token_id=tokenizer.eos_token_id,
                                         pad_token_id=tokenizer.eos_token_id)
                    seq = out[0, ids.shape[1]:].tolist()
                    answers.append(seq[: seq.index(tokenizer.eos_token_id)]
                                   if tokenizer.eos_token_id in seq else seq)
            return Decoded(answers, sum(map(len, answers)),
                           *decoding_flops(model, prompts, answers, bounds, 0))

    @register_engine("hf-generate")
    class GenerateEngine(Engine):
        def wrap(self, decoder):
            if decoder.needs_grammar:
                raise ConfigError("engine 'hf-generate' decodes freely only")
            return GenerateDecoder()

    try:
        model, tokenizer = tiny_llama
        prompts = _prompts(tokenizer, SENTENCES[:4])
        bounds = [6, 3, 9, 4]
        ours = get_decoder("free").decode(model, tokenizer, prompts, bounds, batch_size=4)
        theirs = with_engine(get_decoder("free"), "hf-generate").decode(
            model, tokenizer, prompts, bounds, batch_size=4)
        assert theirs.answers == ours.answers
        with pytest.raises(ConfigError, match="decodes freely only"):
            with_engine(get_decoder("constrained"), "hf-generate")
    finally:
        ENGINES._classes.pop("hf-generate", None)
