"""Instruction prompts for a generative tagger, and the parser back to BIO tags.

Two answer formats:

- ``wordtag``: entity tokens in order as ``word:TAG`` pairs joined by ", "
  (``Ada:B-PER, Lovelace:I-PER, London:B-LOC``), as nerdLLama publishes them;
- ``typed``: ``<TYPE:entity text>`` items (``<PER:Ada Lovelace> <LOC:London>``),
  after an instruction listing the scheme's types with a short description.

A sentence without entities has the empty answer.  The parser never raises:
an item it cannot read, or with a type outside the scheme, is counted as
*malformed*; an entity whose words are not found (in order, after the
previous entity) is dropped and counted as *hallucinated*.

Placement is left to right, so an entity is put at the first occurrence of
its words after the previous entity.  Both formats are ambiguous when the
same words occur earlier in the sentence outside any entity; the parser then
picks the earlier place (the formats carry no positions).
"""
from __future__ import annotations

import re
from dataclasses import dataclass, field
from typing import Sequence

from harness.labels import TYPE_DESCRIPTIONS, LabelScheme

FORMATS = ("wordtag", "typed")
# An item opens with "<TYPE:"; it closes at the last ">" before the next
# opening, so entity words may themselves contain "<" or ">".
_TYPED_OPEN = re.compile(r"<([A-Za-z]+):")


@dataclass
class ParseResult:
    tags: list[str]
    malformed: int = 0
    hallucinated: int = 0
    problems: list[str] = field(default_factory=list)


# ------------------------------------------------------------ spans
def bio_spans(tags: Sequence[str]) -> list[tuple[int, int, str]]:
    """(start, end exclusive, type) of each entity; an I- without a matching
    B- before it starts a new entity, as in seqeval's lenient reading."""
    spans: list[tuple[int, int, str]] = []
    start, etype = None, None
    for i, tag in enumerate(list(tags) + ["O"]):
        prefix, _, t = tag.partition("-")
        continues = prefix == "I" and etype == t and start is not None
        if start is not None and not continues:
            spans.append((start, i, etype))
            start, etype = None, None
        if prefix == "B" or (prefix == "I" and not continues):
            start, etype = i, t
    return spans


# ------------------------------------------------------------ prompts
def instruction(fmt: str, tokens: Sequence[str], scheme: LabelScheme) -> str:
    sentence = " ".join(tokens)
    if fmt == "wordtag":
        return sentence
    if fmt == "typed":
        types = "\n".join(f"- {t}: {TYPE_DESCRIPTIONS[t]}" for t in scheme.types)
        return ("Find the named entities in the text. Entity types:\n"
                f"{types}\n"
                "Answer with <TYPE:entity text> items in order of appearance, "
                "or nothing if there are none.\n"
                f"Text: {sentence}")
    raise ValueError(f"unknown prompt format {fmt!r}; known: {', '.join(FORMATS)}")


def answer(fmt: str, tokens: Sequence[str], tags: Sequence[str]) -> str:
    if fmt == "wordtag":
        return ", ".join(f"{w}:{t}" for w, t in zip(tokens, tags) if t != "O")
    if fmt == "typed":
        return " ".join(f"<{t}:{' '.join(tokens[s:e])}>" for s, e, t in bio_spans(tags))
    raise ValueError(f"unknown prompt format {fmt!r}; known: {', '.join(FORMATS)}")


def longest_answer(fmt: str, tokens: Sequence[str], scheme: LabelScheme) -> str:
    """An answer at least as long as any valid one: every word an entity of the
    longest type name.  Its length in tokens bounds generation."""
    longest = max(scheme.types, key=len)
    if fmt == "wordtag":
        return answer(fmt, tokens, [f"I-{longest}"] * len(tokens))
    return answer(fmt, tokens, [f"B-{longest}"] * len(tokens))


# ------------------------------------------------------------ parser
def _find(tokens: Sequence[str], words: Sequence[str], start: int) -> int:
    n = len(words)
    for k in range(start, len(tokens) - n + 1):
        if list(tokens[k:k + n]) == list(words):
            return k
    return -1


def parse(fmt: str, text: str, tokens: Sequence[str], scheme: LabelScheme) -> ParseResult:
    """Turn a generated answer into one tag per token.  Never raises."""
    result = ParseResult(["O"] * len(tokens))
    try:
        if fmt == "wordtag":
            _parse_wordtag(text, tokens, scheme, result)
        elif fmt == "typed":
            _parse_typed(text, tokens, scheme, result)
        else:
            result.malformed += 1
            result.problems.append(f"unknown format {fmt!r}")
    except Exception as err:  # noqa: BLE001 - a parser bug must not lose a run
        result.malformed += 1
        result.problems.append(f"parser error: {err!r}")
    return result


def _place(result: ParseResult, tokens, words, etype, cursor: int) -> int:
    k = _find(tokens, words, cursor)
    if k < 0:
        result.hallucinated += 1
        result.problems.append(f"not in sentence: {' '.join(words)!r}")
        return cursor
    result.tags[k] = f"B-{etype}"
    for j in range(k + 1, k + len(words)):
        result.tags[j] = f"I-{etype}"
    return k + len(words)


def _parse_wordtag(text: str, tokens, scheme: LabelScheme, result: ParseResult) -> None:
    # Group consecutive B-/I- items of one type into entities, then place them.
    entities: list[tuple[list[str], str]] = []
    for item in (i.strip() for i in text.strip().split(", ")):
        if not item:
            continue
        word, sep, tag = item.rpartition(":")
        prefix, _, etype = tag.partition("-")
        if not sep or not word or prefix not in ("B", "I") or etype not in scheme.types:
            result.malformed += 1
            result.problems.append(f"malformed item: {item!r}")
            continue
        if prefix == "I" and entities and entities[-1][1] == etype:
            entities[-1][0].append(word)
        else:
            entities.append(([word], etype))
    cursor = 0
    for words, etype in entities:
        cursor = _place(result, tokens, words, etype, cursor)


def _parse_typed(text: str, tokens, scheme: LabelScheme, result: ParseResult) -> None:
    opens = list(_TYPED_OPEN.finditer(text))
    _count_garbage(text[: opens[0].start()] if opens else text, result)
    cursor = 0
    for n, m in enumerate(opens):
        end = opens[n + 1].start() if n + 1 < len(opens) else len(text)
        segment = text[m.end():end]
        close = segment.rfind(">")
        if close < 0:
            result.malformed += 1
            result.problems.append(f"unclosed item: {text[m.start():end][:40]!r}")
            continue
        _count_garbage(segment[close + 1:], result)
        etype, words = m.group(1), segment[:close].split()
        if etype not in scheme.types or not words:
            result.malformed += 1
            result.problems.append(f"malformed item: {text[m.start():m.end() + close + 1][:40]!r}")
            continue
        cursor = _place(result, tokens, words, etype, cursor)


def _count_garbage(between: str, result: ParseResult) -> None:
    if between.strip(" ,;\n\t"):
        result.malformed += 1
        result.problems.append(f"unparsed text: {between.strip()[:40]!r}")
