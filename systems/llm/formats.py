"""Prompt formats of the generative tagger: one class per format, registered by name.

A format says four things: the instruction for a sentence, the answer the
model is trained to write, a bound on any valid answer's length, and how an
answer is parsed back to one tag per token.  A new format is one class::

    @register_format("myformat")
    class MyFormat(PromptFormat):
        def instruction(self, tokens, scheme): ...
        def answer(self, tokens, tags): ...
        def parse_answer(self, text, tokens, scheme): ...   -> ParseResult

Two formats ship:

- ``wordtag``: entity tokens in order as ``word:TAG`` pairs joined by ", "
  (``Ada:B-PER, Lovelace:I-PER, London:B-LOC``), as nerdLLama publishes them;
- ``typed``: ``<TYPE:entity text>`` items (``<PER:Ada Lovelace> <LOC:London>``),
  after an instruction listing the scheme's types with a short description.

A sentence without entities has the empty answer.  Parsing never raises (see
`harness.data.answers`).
"""
from __future__ import annotations

import re
from abc import ABC, abstractmethod
from typing import Sequence

from harness.data.answers import ParseResult, parse_wordtag, place
from harness.core.labels import LabelScheme
from harness.core.named import NamedClasses
from harness.data.spans import lenient_spans

from systems.llm.grammar import AnswerGrammar, TypedGrammar, WordTagGrammar

FORMATS: NamedClasses["PromptFormat"] = NamedClasses("prompt format")
register_format = FORMATS.register
formats = FORMATS.names
get_format = FORMATS.create


class PromptFormat(ABC):
    name: str = ""

    @abstractmethod
    def instruction(self, tokens: Sequence[str], scheme: LabelScheme) -> str:
        """The user message for one sentence."""

    @abstractmethod
    def answer(self, tokens: Sequence[str], tags: Sequence[str]) -> str:
        """The answer the model learns to write for gold `tags`."""

    @abstractmethod
    def parse_answer(self, text: str, tokens: Sequence[str], scheme: LabelScheme) -> ParseResult:
        """A generated answer -> one tag per token, with what was wrong with it."""

    def longest_answer(self, tokens: Sequence[str], scheme: LabelScheme) -> str:
        """An answer at least as long as any valid one: every word an entity of
        the longest type name, each word its own entity.  Its length in tokens
        bounds generation."""
        longest = max(scheme.types, key=len)
        return self.answer(tokens, [f"B-{longest}"] * len(tokens))

    def grammar(self, tokens: Sequence[str], scheme: LabelScheme) -> AnswerGrammar | None:
        """The valid answers for this sentence, for constrained decoding (None:
        this format cannot be decoded under a constraint)."""
        return None

    def parse(self, text: str, tokens: Sequence[str], scheme: LabelScheme) -> ParseResult:
        """`parse_answer`, which a parser bug never turns into a lost run."""
        try:
            return self.parse_answer(text, tokens, scheme)
        except Exception as err:  # noqa: BLE001 - a parser bug must not lose a run
            result = ParseResult(["O"] * len(tokens))
            result.complain(f"parser error: {err!r}")
            return result


@register_format("wordtag")
class WordTag(PromptFormat):
    def instruction(self, tokens, scheme):
        return " ".join(tokens)

    def answer(self, tokens, tags):
        return ", ".join(f"{w}:{t}" for w, t in zip(tokens, tags) if t != "O")

    def longest_answer(self, tokens, scheme):
        # "I-" items are as long as "B-" ones; kept so the bound is unchanged.
        return self.answer(tokens, [f"I-{max(scheme.types, key=len)}"] * len(tokens))

    def parse_answer(self, text, tokens, scheme):
        return parse_wordtag(text, tokens, scheme)

    def grammar(self, tokens, scheme):
        return WordTagGrammar(tokens, scheme.types)


# An item opens with "<TYPE:"; it closes at the last ">" before the next
# opening, so entity words may themselves contain "<" or ">".
_TYPED_OPEN = re.compile(r"<([^\s:<>]+):")


@register_format("typed")
class Typed(PromptFormat):
    def instruction(self, tokens, scheme):
        types = "\n".join(f"- {t}: {scheme.describe(t)}" for t in scheme.types)
        return ("Find the named entities in the text. Entity types:\n"
                f"{types}\n"
                "Answer with <TYPE:entity text> items in order of appearance, "
                "or nothing if there are none.\n"
                f"Text: {' '.join(tokens)}")

    def answer(self, tokens, tags):
        return " ".join(f"<{t}:{' '.join(tokens[s:e])}>" for s, e, t in lenient_spans(tags))

    def grammar(self, tokens, scheme):
        return TypedGrammar(tokens, scheme.types)

    def parse_answer(self, text, tokens, scheme):
        result = ParseResult(["O"] * len(tokens))
        opens = list(_TYPED_OPEN.finditer(text))
        _count_garbage(text[: opens[0].start()] if opens else text, result)
        cursor = 0
        for n, m in enumerate(opens):
            end = opens[n + 1].start() if n + 1 < len(opens) else len(text)
            segment = text[m.end():end]
            close = segment.rfind(">")
            if close < 0:
                result.complain(f"unclosed item: {text[m.start():end][:40]!r}")
                continue
            _count_garbage(segment[close + 1:], result)
            etype, words = m.group(1), segment[:close].split()
            if etype not in scheme.types or not words:
                result.complain(f"malformed item: {text[m.start():m.end() + close + 1][:40]!r}")
                continue
            cursor = place(result, tokens, words, etype, cursor)
        return result


def _count_garbage(between: str, result: ParseResult) -> None:
    if between.strip(" ,;\n\t"):
        result.complain(f"unparsed text: {between.strip()[:40]!r}")
