"""Entity spans from BIO tags and back: the one place that reads and writes them.

A span is ``(start, end exclusive, type)``.  Two readings of a tag sequence:

- strict IOB2 (seqeval's ``mode="strict"``, used for every score): an entity
  opens with B-X and continues with I-X; a stray I- opens nothing;
- lenient (seqeval's default reading): a stray I-X opens a new entity, which
  is how a generative tagger's ``word:I-X`` answer is read back.
"""
from __future__ import annotations

from typing import Sequence

Span = tuple[int, int, str]


def _spans(tags: Sequence[str], stray_inside_opens: bool) -> list[Span]:
    spans: list[Span] = []
    start, etype = None, None
    for i, tag in enumerate(list(tags) + ["O"]):
        prefix, _, t = tag.partition("-")
        continues = prefix == "I" and t == etype and start is not None
        if start is not None and not continues:
            spans.append((start, i, etype))
            start, etype = None, None
        if prefix == "B" or (stray_inside_opens and prefix == "I" and not continues):
            start, etype = i, t
    return spans


def strict_spans(tags: Sequence[str]) -> list[Span]:
    return _spans(tags, stray_inside_opens=False)


def lenient_spans(tags: Sequence[str]) -> list[Span]:
    return _spans(tags, stray_inside_opens=True)


def spans_to_bio(n_tokens: int, spans: Sequence[Span], types: Sequence[str]) -> list[str]:
    """Spans -> BIO tags.  Types outside `types` become O; overlapping spans
    keep the one that starts first (the longer on a tie)."""
    tags = ["O"] * n_tokens
    taken = [False] * n_tokens
    for start, end, etype in sorted(spans, key=lambda s: (s[0], -(s[1] - s[0]))):
        if etype not in types or start >= end or any(taken[start:end]):
            continue
        tags[start] = f"B-{etype}"
        tags[start + 1:end] = [f"I-{etype}"] * (end - start - 1)
        taken[start:end] = [True] * (end - start)
    return tags
