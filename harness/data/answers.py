"""Reading a generative tagger's answer back onto the sentence's tokens.

Used by the LLM tagger's prompt formats and by `score`, which reads the
``word:TAG, ...`` lists that generative taggers publish.  Nothing here
raises on bad text: an item that cannot be read is counted as *malformed*;
an entity whose words are not found (in order, after the previous entity)
is dropped and counted as *hallucinated*.

Placement is left to right, so an entity is put at the first occurrence of
its words after the previous entity.  When the same words occur earlier in
the sentence outside any entity, the earlier place is taken (the answer
carries no positions).
"""
from __future__ import annotations

from dataclasses import dataclass, field
from typing import Sequence

from harness.core.labels import LabelScheme


@dataclass
class ParseResult:
    tags: list[str]
    malformed: int = 0
    hallucinated: int = 0
    problems: list[str] = field(default_factory=list)

    def complain(self, what: str, malformed: bool = True) -> None:
        self.problems.append(what)
        if malformed:
            self.malformed += 1
        else:
            self.hallucinated += 1


def find_words(tokens: Sequence[str], words: Sequence[str], start: int) -> int:
    """First position at or after `start` where `words` stand in `tokens`, or -1."""
    n = len(words)
    for k in range(start, len(tokens) - n + 1):
        if list(tokens[k:k + n]) == list(words):
            return k
    return -1


def place(result: ParseResult, tokens: Sequence[str], words: Sequence[str], etype: str,
          cursor: int) -> int:
    """Tag `words` as one `etype` entity at their first place from `cursor`;
    return the new cursor."""
    k = find_words(tokens, words, cursor)
    if k < 0:
        result.complain(f"not in sentence: {' '.join(words)!r}", malformed=False)
        return cursor
    result.tags[k] = f"B-{etype}"
    for j in range(k + 1, k + len(words)):
        result.tags[j] = f"I-{etype}"
    return k + len(words)


def parse_wordtag(text: str, tokens: Sequence[str], scheme: LabelScheme) -> ParseResult:
    """A ``word:B-X, word:I-X, ...`` list -> one tag per token.  Consecutive
    B-/I- items of one type form an entity, placed left to right."""
    result = ParseResult(["O"] * len(tokens))
    entities: list[tuple[list[str], str]] = []
    for item in (i.strip() for i in text.strip().split(", ")):
        if not item:
            continue
        word, sep, tag = item.rpartition(":")
        prefix, _, etype = tag.partition("-")
        if not sep or not word or prefix not in ("B", "I") or etype not in scheme.types:
            result.complain(f"malformed item: {item!r}")
            continue
        if prefix == "I" and entities and entities[-1][1] == etype:
            entities[-1][0].append(word)
        else:
            entities.append(([word], etype))
    cursor = 0
    for words, etype in entities:
        cursor = place(result, tokens, words, etype, cursor)
    return result
