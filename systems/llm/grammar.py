"""What a valid answer of a prompt format looks like, for constrained decoding.

A grammar is built for one sentence and answers two questions about a text:
can it still grow into a valid answer (`accepts_prefix`), and is it one now
(`accepts`)?  A valid answer is a sequence of items, each a word sequence of
the sentence that starts at or after the end of the previous item, followed
by a tag (wordtag) or a type (typed) of the scheme; the empty answer is valid.

Both grammars match the text from the left, trying each sentence position at
or after the previous item's end, so an answer that repeats words still finds
every reading.
"""
from __future__ import annotations

import functools
import json
from typing import Sequence


def literal(text: str) -> str:
    """An EBNF string literal (escaped as a JSON string is)."""
    return json.dumps(text, ensure_ascii=False)


class AnswerGrammar:
    def __init__(self, tokens: Sequence[str], types: Sequence[str]):
        self.tokens = list(tokens)
        self.types = list(types)

    def ebnf(self) -> str:
        """The same language as EBNF (root rule ``root``), for grammar engines."""
        raise NotImplementedError

    def accepts_prefix(self, text: str) -> bool:
        return text == "" or self._match(text)[0]

    def accepts(self, text: str) -> bool:
        return text == "" or self._match(text)[1]

    def _match(self, text: str) -> tuple[bool, bool]:
        """(text is a prefix of a valid answer, text is a complete valid answer)."""
        @functools.lru_cache(maxsize=None)
        def items(pos: int, cursor: int, previous: str | None) -> tuple[bool, bool]:
            return self._items(text, pos, cursor, previous, items)

        return items(0, 0, None)

    def _items(self, text, pos, cursor, previous, items) -> tuple[bool, bool]:
        """Match items from text[pos:], the next one starting at sentence word
        `cursor` or later; `previous` is the type of the item before it."""
        raise NotImplementedError

    @staticmethod
    def _after_item(text: str, end: int, sep: str, cursor: int, previous: str,
                    items) -> tuple[bool, bool]:
        """What follows a complete item ending at `end`: the end of the answer,
        part of the separator, or the separator and more items."""
        after = text[end:]
        if after == "":
            return True, True
        if sep.startswith(after):
            return True, False
        if after.startswith(sep):
            return items(end + len(sep), cursor, previous)
        return False, False


class WordTagGrammar(AnswerGrammar):
    """``word:B-X, word:I-X, ...``: one sentence word per item.  As the parser
    reads it, an I-X item right after an item of type X continues that entity,
    so its word must be the next word of the sentence."""

    SEP = ", "

    def __init__(self, tokens, types):
        super().__init__(tokens, types)
        self.tags = [f"{p}-{t}" for t in self.types for p in ("B", "I")]

    def _items(self, text, pos, cursor, previous, items):
        rest, ok, complete = text[pos:], False, False
        for k in range(cursor, len(self.tokens)):
            head = self.tokens[k] + ":"
            if head.startswith(rest):
                ok = True                          # rest is part of a word (or its colon)
                continue
            if not rest.startswith(head):
                continue
            body = rest[len(head):]
            for tag in self.tags:
                if tag == f"I-{previous}" and k != cursor:
                    continue                       # would join a word further on
                if tag.startswith(body) and tag != body:
                    ok = True
                elif body.startswith(tag):
                    p, c = self._after_item(text, pos + len(head) + len(tag), self.SEP, k + 1,
                                            tag[2:], items)
                    ok, complete = ok or p, complete or c
        return ok, complete


    def ebnf(self) -> str:
        """at_i_P: items from word i, right after an item of type P (any tag);
        far_i_P: from word i or later, not right after it (no I-P); with no
        previous item (P = none) at_i_none alone serves both.  Shared
        pieces are rules of their own: compile time grows with rule size."""
        n, states = len(self.tokens), self.types + ["none"]
        lines = ['root ::= "" | at_0_none']
        for i, word in enumerate(self.tokens):
            after = {t: self._rest(i + 1, t) for t in self.types}
            typed = " | ".join(f"{literal(t)} {after[t]}" for t in self.types)
            lines += [f"head_{i} ::= {literal(word + ':')}",
                      f'tail_{i} ::= ("B-" | "I-") ({typed})']
            for prev in states:
                # With no previous item, "next to it" and "further on" are one state.
                skip = "at" if prev == "none" else "far"
                later = f" | {skip}_{i + 1}_{prev}" if i + 1 < n else ""
                lines.append(f"at_{i}_{prev} ::= head_{i} tail_{i}{later}")
                if prev == "none":
                    continue
                others = " | ".join(f"{literal(t)} {after[t]}" for t in self.types if t != prev)
                lines.append(f'far_{i}_{prev} ::= head_{i} ("B-" ({typed}) | "I-" ({others}))'
                             f'{later}')
        for i in range(1, n):
            lines += [f'rest_{i}_{t} ::= "" | {literal(self.SEP)} at_{i}_{t}' for t in self.types]
        return "\n".join(lines)

    def _rest(self, nxt: int, etype: str) -> str:
        return f"rest_{nxt}_{etype}" if nxt < len(self.tokens) else '""'


class TypedGrammar(AnswerGrammar):
    """``<TYPE:words> <TYPE:words>``: consecutive sentence words per item."""

    SEP = " "

    def _items(self, text, pos, cursor, previous, items):
        rest, ok, complete = text[pos:], False, False
        for etype in self.types:
            head = f"<{etype}:"
            if head.startswith(rest):
                ok = True
            elif rest.startswith(head):
                p, c = self._words(text, pos + len(head), cursor, items)
                ok, complete = ok or p, complete or c
        return ok, complete

    def _words(self, text, pos, cursor, items) -> tuple[bool, bool]:
        body, ok, complete = text[pos:], False, False
        for start in range(cursor, len(self.tokens)):
            for end in range(start + 1, len(self.tokens) + 1):
                item = " ".join(self.tokens[start:end]) + ">"
                if body.startswith(item):
                    p, c = self._after_item(text, pos + len(item), self.SEP, end, None, items)
                    ok, complete = ok or p, complete or c
                elif item.startswith(body):
                    ok = True
                if not body.startswith(item[:-1]):
                    break   # longer word runs cannot match either
        return ok, complete

    def ebnf(self) -> str:
        """from_i: items starting at word i or later; run_i: the words of an
        item from word i on, up to its closing ">"."""
        n = len(self.tokens)
        types = " | ".join(literal(t) for t in self.types)
        lines = ['root ::= "" | from_0', f"type ::= {types}"]
        for i, word in enumerate(self.tokens):
            later = f" | from_{i + 1}" if i + 1 < n else ""
            lines.append(f'from_{i} ::= "<" type ":" run_{i}{later}')
            rest = f'("" | {literal(self.SEP)} from_{i + 1})' if i + 1 < n else '""'
            more = f" | {literal(word + ' ')} run_{i + 1}" if i + 1 < n else ""
            lines.append(f"run_{i} ::= {literal(word + '>')} {rest}{more}")
        return "\n".join(lines)
