"""The constrained decoder on a tiny random Llama: whatever the model prefers,
every answer is a valid answer of its sentence (items in order, words of the
sentence, tags of the scheme), over random sentences with repeated words,
punctuation, non-ASCII text and words the tokenizer splits into many pieces."""
import pytest

pytest.importorskip("torch")
pytest.importorskip("transformers")

from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from harness.data.multinerd import SCHEMES
from systems.llm.decoding.decoders import get_decoder
from systems.llm.formats import get_format
from tiny_models import tiny_llama_folder

B = SCHEMES["B"]
# Short, common words become single tokens; the long and non-ASCII ones are
# not in the tokenizer's small training corpus, so they split into many pieces.
WORDS = ["Ada", "met", "Paris", "the", "New", "York", ",", ".", "(", ")", "'s", ":", "<", ">",
         "Zürich", "東京", "Łódź", "naïve", "Supercalifragilistic", "x:y", "B-PER", "é"]


@pytest.fixture(scope="module")
def tiny_model(tmp_path_factory):
    import torch
    from transformers import AutoModelForCausalLM, AutoTokenizer

    corpus = ["Ada met the New York Paris , . ( ) 's", "Ada:B-PER, York:I-LOC <PER:Ada>"]
    folder = tiny_llama_folder(tmp_path_factory.mktemp("llama"), corpus)
    torch.manual_seed(0)
    return AutoModelForCausalLM.from_pretrained(folder).eval(), AutoTokenizer.from_pretrained(folder)


def _decode(model, tokenizer, fmt, sentences, top_k, engine="constrained"):
    decoder = get_decoder(engine)
    decoder.top_k = top_k
    prompts = [tokenizer(get_format(fmt).instruction(s, B))["input_ids"] for s in sentences]
    longest = [get_format(fmt).longest_answer(s, B) for s in sentences]
    bounds = [len(tokenizer(t, add_special_tokens=False)["input_ids"]) + 1 for t in longest]
    grammars = [get_format(fmt).grammar(s, B) for s in sentences]
    decoded = decoder.decode(model, tokenizer, prompts, bounds, batch_size=3, grammars=grammars)
    return [tokenizer.decode(a, skip_special_tokens=True) for a in decoded.answers]


@pytest.mark.parametrize("fmt", ["wordtag", "typed"])
@pytest.mark.parametrize("top_k", [8, 10**6])   # the default's few candidates, and all of them
@settings(max_examples=12, deadline=None, suppress_health_check=[HealthCheck.function_scoped_fixture])
@given(sentences=st.lists(st.lists(st.sampled_from(WORDS), min_size=1, max_size=8),
                          min_size=1, max_size=5))
def test_every_constrained_answer_is_valid(tiny_model, fmt, top_k, sentences):
    model, tokenizer = tiny_model
    answers = _decode(model, tokenizer, fmt, sentences, top_k)
    for tokens, text in zip(sentences, answers):
        assert get_format(fmt).grammar(tokens, B).accepts(text), (tokens, text)
        parsed = get_format(fmt).parse(text, tokens, B)
        assert parsed.malformed == 0 and parsed.hallucinated == 0, (tokens, text, parsed.problems)


@pytest.mark.parametrize("fmt", ["wordtag", "typed"])
@settings(max_examples=12, deadline=None, suppress_health_check=[HealthCheck.function_scoped_fixture])
@given(sentences=st.lists(st.lists(st.sampled_from(WORDS), min_size=1, max_size=8),
                          min_size=1, max_size=5))
def test_every_xgrammar_answer_is_valid(tiny_model, fmt, sentences):
    pytest.importorskip("xgrammar")
    model, tokenizer = tiny_model
    answers = _decode(model, tokenizer, fmt, sentences, None, engine="xgrammar")
    for tokens, text in zip(sentences, answers):
        assert get_format(fmt).grammar(tokens, B).accepts(text), (tokens, text)


@pytest.mark.parametrize("fmt", ["wordtag", "typed"])
@settings(max_examples=60, deadline=None)
@given(tokens=st.lists(st.sampled_from(WORDS), min_size=1, max_size=6), data=st.data())
def test_ebnf_accepts_what_the_grammar_accepts(fmt, tokens, data):
    """Answers from gold-like tags, shuffled items and stray words: xgrammar
    reading `ebnf()` and the grammar itself agree on every one."""
    xgr = pytest.importorskip("xgrammar")
    from xgrammar.testing import _is_grammar_accept_string

    tags = data.draw(st.lists(st.sampled_from(["O", "B-PER", "I-PER", "B-LOC", "I-LOC"]),
                              min_size=len(tokens), max_size=len(tokens)))
    answer = get_format(fmt).answer(tokens, tags)
    sep = ", " if fmt == "wordtag" else " "
    items = answer.split(sep) if answer else []
    candidates = {answer, sep.join(reversed(items)), answer + sep,
                  sep.join(items + [data.draw(st.sampled_from(items or ["Ada:B-PER"]))]),
                  f"{data.draw(st.sampled_from(WORDS))}:I-LOC", "<PER:" + tokens[-1] + ">"}
    grammar = get_format(fmt).grammar(tokens, B)
    compiled = xgr.Grammar.from_ebnf(grammar.ebnf())
    for text in candidates:
        assert _is_grammar_accept_string(compiled, text) == grammar.accepts(text), (tokens, text)


def test_unconstrained_random_model_does_write_invalid_answers(tiny_model):
    """The check above is not vacuous: without the constraint the same model's
    answers do not parse."""
    from systems.llm.decoding.decoders import get_decoder as decoders

    model, tokenizer = tiny_model
    sentences = [["Ada", "met", "Zürich", "."], ["New", "York", ",", "東京"]]
    prompts = [tokenizer(get_format("wordtag").instruction(s, B))["input_ids"] for s in sentences]
    free = decoders("free").decode(model, tokenizer, prompts, [20, 20], batch_size=2)
    texts = [tokenizer.decode(a, skip_special_tokens=True) for a in free.answers]
    assert any(not get_format("wordtag").grammar(s, B).accepts(t) for s, t in zip(sentences, texts))


@pytest.mark.parametrize("engine", ["constrained", "xgrammar"])
@pytest.mark.parametrize("fmt", ["wordtag", "typed"])
def test_a_model_that_prefers_the_gold_answer_writes_it(tiny_model, engine, fmt):
    """Every step of a valid answer is allowed, including tokens that end
    inside a character (東京 and Łódź are split into bytes here)."""
    import torch

    if engine == "xgrammar":
        pytest.importorskip("xgrammar")
    _, tokenizer = tiny_model
    tokens = ["Ada", "met", "東京", "and", "Łódź", "Zürich", "."]
    tags = ["B-PER", "O", "B-LOC", "O", "B-LOC", "I-LOC", "O"]
    gold = tokenizer(get_format(fmt).answer(tokens, tags), add_special_tokens=False)["input_ids"]
    assert any("\ufffd" in tokenizer.decode(gold[:k]) for k in range(len(gold)))
    choose = get_decoder(engine).chooser(tokenizer, [get_format(fmt).grammar(tokens, B)])
    answer: list[int] = []
    for token in gold + [tokenizer.eos_token_id]:
        logits = torch.zeros((1, len(tokenizer)))
        logits[0, token] = 1.0
        assert choose(logits, [0], [answer]).tolist() == [token], tokenizer.decode(answer)
        answer.append(token)
