"""Prompt formats round-trip, and the parser survives anything a model writes."""
import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from harness.data.multinerd import SCHEMES
from harness.data.spans import lenient_spans as bio_spans
from systems.llm.formats import formats, get_format
from tests_support.readme_examples import ensure_prompt_format_registered

# The README's example format goes through every test the shipped formats do.
README_FORMAT = ensure_prompt_format_registered()
FORMATS = formats()


def answer(fmt, tokens, tags):
    return get_format(fmt).answer(tokens, tags)


def instruction(fmt, tokens, scheme):
    return get_format(fmt).instruction(tokens, scheme)


def longest_answer(fmt, tokens, scheme):
    return get_format(fmt).longest_answer(tokens, scheme)


def parse(fmt, text, tokens, scheme):
    return get_format(fmt).parse(text, tokens, scheme)


A = SCHEMES["A"]
WORDS = ["New", "York", "the", "Apple", ",", ".", "'s", "(", ")", ":", "a:b", "<", "x>",
         "10:30", "-", "B-PER", "O", "Paris", "Mount", "St.", "é"]


@st.composite
def tagged_sentences(draw):
    """Random valid IOB2 sentences; entities may repeat words, touch each
    other with one type, and contain punctuation tokens."""
    n = draw(st.integers(1, 14))
    tokens = [draw(st.sampled_from(WORDS)) for _ in range(n)]
    tags, i = [], 0
    while i < n:
        if draw(st.booleans()):
            tags.append("O")
            i += 1
            continue
        etype = draw(st.sampled_from(A.types))
        length = draw(st.integers(1, min(4, n - i)))
        tags += [f"B-{etype}"] + [f"I-{etype}"] * (length - 1)
        i += length
    return tokens, tags


def _ambiguous(tokens, tags) -> bool:
    cursor = 0
    for s, e, _ in bio_spans(tags):
        words = tokens[s:e]
        for k in range(cursor, s):
            if tokens[k:k + len(words)] == words:
                return True
        cursor = e
    return False


@pytest.mark.parametrize("fmt", FORMATS)
@settings(max_examples=400, deadline=None)
@given(case=tagged_sentences())
def test_round_trip(fmt, case):
    tokens, tags = case
    text = answer(fmt, tokens, tags)
    parsed = parse(fmt, text, tokens, A)
    assert parsed.malformed == 0 and parsed.hallucinated == 0, parsed.problems
    if not _ambiguous(tokens, tags):
        assert parsed.tags == tags, (text, parsed.problems)


@pytest.mark.parametrize("fmt", FORMATS)
def test_hand_picked_round_trips(fmt):
    cases = [
        (["Paris", "Paris", "."], ["B-LOC", "B-LOC", "O"]),                      # adjacent, same type
        (["New", "York", "New", "York"], ["B-LOC", "I-LOC", "B-ORG", "I-ORG"]),   # repeated words
        (["Washington", ",", "D.C.", "rocks"], ["B-LOC", "I-LOC", "I-LOC", "O"]),  # punctuation inside
        (["it", "is", "quiet"], ["O", "O", "O"]),                                 # no entities
        (["10:30", "a:b"], ["B-TIME", "B-MEDIA"]),                                # colons in words
    ]
    for tokens, tags in cases:
        text = answer(fmt, tokens, tags)
        assert parse(fmt, text, tokens, A).tags == tags, text


def test_formats_look_as_documented():
    tokens = ["She", "grew", "ginseng", "in", "New", "York"]
    tags = ["O", "O", "B-PLANT", "O", "B-LOC", "I-LOC"]
    assert answer("wordtag", tokens, tags) == "ginseng:B-PLANT, New:B-LOC, York:I-LOC"
    assert answer("typed", tokens, tags) == "<PLANT:ginseng> <LOC:New York>"
    assert answer("wordtag", ["quiet"], ["O"]) == ""
    prompt = instruction("typed", tokens, SCHEMES["B"])
    assert "- DIS: disease" in prompt and "PLANT" not in prompt.split("Text:")[0]
    assert len(longest_answer("wordtag", tokens, A)) >= len(answer("wordtag", tokens, tags))


NASTY = [
    "", " ", ",", ", , ,", ":", "::::", "B-PER", "Ada:", ":B-PER", "Ada:B-", "Ada:X-PER",
    "Ada:B-NOTATYPE", "Ada:b-per", "Zeus:B-PER", "Ada:B-PER, Zeus:I-PER", "Ada:I-PER",
    "<", ">", "<PER:", "<PER:>", "<:Ada>", "<NOPE:Ada>", "<PER:Zeus>", "<<PER:Ada>>",
    "<PER:Ada> trailing words", "\x00\x01", "Ada:B-PER\nLovelace:I-PER", "🙂:B-PER",
    "Ada:B-PER, " * 50, "<PER:Ada Lovelace Ada Lovelace Ada>", "None", "null", "[]",
]


@pytest.mark.parametrize("fmt", FORMATS)
@pytest.mark.parametrize("text", NASTY)
def test_parser_never_raises_on_nasty_output(fmt, text):
    tokens = ["Ada", "Lovelace", "met", "Ada", "."]
    r = parse(fmt, text, tokens, SCHEMES["B"])
    assert len(r.tags) == len(tokens)
    assert all(t in SCHEMES["B"].labels for t in r.tags)


@pytest.mark.parametrize("fmt", FORMATS)
@settings(max_examples=300, deadline=None)
@given(text=st.text(max_size=200))
def test_parser_never_raises_on_any_text(fmt, text):
    r = parse(fmt, text, ["Ada", "went", "to", "Paris"], A)
    assert len(r.tags) == 4


def test_counts_malformed_and_hallucinated():
    tokens = ["Ada", "Lovelace", "met", "Babbage"]
    r = parse("wordtag", "Ada:B-PER, Lovelace:I-PER, Zeus:B-PER, Babbage:B-FOOD, junk",
              tokens, SCHEMES["B"])
    assert r.tags == ["B-PER", "I-PER", "O", "O"]
    assert r.hallucinated == 1 and r.malformed == 2
    r = parse("typed", "<PER:Ada Lovelace> <PER:Zeus> <FOOD:Babbage> hmm", tokens, SCHEMES["B"])
    assert r.tags == ["B-PER", "I-PER", "O", "O"]
    assert r.hallucinated == 1 and r.malformed == 2


def test_readme_format_is_one_class_selected_by_name():
    from harness.core import get_system

    assert README_FORMAT in FORMATS and len(FORMATS) >= 3
    tokens, tags = ["Ada", "met", "New", "York"], ["B-PER", "O", "B-LOC", "I-LOC"]
    assert answer("json", tokens, tags) == '[["PER", "Ada"], ["LOC", "New York"]]'
    r = parse("json", '[["PER", "Ada"], ["LOC", "Paris"], ["XYZ", "York"], 7', tokens,
              SCHEMES["B"])
    assert r.malformed == 1 and r.tags == ["O"] * 4 and "not JSON" in r.problems[0]
    r = parse("json", '[["PER", "Ada"], ["LOC", "Paris"], ["XYZ", "York"], 7]', tokens,
              SCHEMES["B"])
    assert r.tags == ["B-PER", "O", "O", "O"] and r.hallucinated == 1 and r.malformed == 2
    cls = get_system("llm")
    assert cls(SCHEMES["B"], cls.make_config("offline", prompt_format="json")).format.name == "json"


GRAMMAR_FORMATS = [f for f in FORMATS if get_format(f).grammar(["a"], A) is not None]


@pytest.mark.parametrize("fmt", GRAMMAR_FORMATS)
@settings(max_examples=200, deadline=None)
@given(case=tagged_sentences())
def test_grammar_accepts_every_gold_answer_and_its_prefixes(fmt, case):
    tokens, tags = case
    grammar = get_format(fmt).grammar(tokens, A)
    text = answer(fmt, tokens, tags)
    assert grammar.accepts(text), text
    assert all(grammar.accepts_prefix(text[:k]) for k in range(len(text) + 1))


@pytest.mark.parametrize("fmt", GRAMMAR_FORMATS)
@pytest.mark.parametrize("text", NASTY)
def test_grammar_accepts_only_what_parses_cleanly(fmt, text):
    tokens = ["Ada", "Lovelace", "met", "Ada", "."]
    if get_format(fmt).grammar(tokens, SCHEMES["B"]).accepts(text):
        parsed = parse(fmt, text, tokens, SCHEMES["B"])
        assert parsed.malformed == 0 and parsed.hallucinated == 0, (text, parsed.problems)


def test_grammar_rejects_words_out_of_order_and_unknown_types():
    g = get_format("wordtag").grammar(["Ada", "met", "Bob"], SCHEMES["B"])
    assert g.accepts("Bob:B-PER") and not g.accepts("Bob:B-PER, Ada:B-PER")
    assert g.accepts_prefix("Ada:B-PE") and not g.accepts("Ada:B-PE")
    assert not g.accepts_prefix("Ada:B-FOOD") and not g.accepts_prefix("Zeus")
    t = get_format("typed").grammar(["New", "York", "is", "big"], SCHEMES["B"])
    assert t.accepts("<LOC:New York>") and t.accepts_prefix("<LOC:New Yo")
    assert not t.accepts_prefix("<LOC:York New") and not t.accepts_prefix("<PLANT:")
    assert not t.accepts("<LOC:New York") and not t.accepts("<LOC:New York> ")


def test_typed_answers_read_types_that_are_not_plain_letters():
    from harness.core.labels import LabelScheme

    scheme = LabelScheme("X", ("WORK_OF_ART", "PER"))
    r = parse("typed", "<WORK_OF_ART:Hamlet> <PER:Shakespeare>", ["Hamlet", "by", "Shakespeare"],
              scheme)
    assert r.tags == ["B-WORK_OF_ART", "O", "B-PER"] and not r.problems
