"""How a decoding step's next token is chosen: the plain argmax, and what the
grammar-constrained decoders share."""
from __future__ import annotations


def _argmax(logits, rows, answers):
    return logits.argmax(-1)


def _contiguous_float_copy(logits):
    import torch

    return logits.to(torch.float32, copy=True, memory_format=torch.contiguous_format)


def longest_complete_prefix(tokenizer, grammar, answer: list[int]) -> list[int]:
    """The longest prefix of `answer` that the grammar accepts as a whole."""
    for end in range(len(answer), -1, -1):
        if grammar.accepts(tokenizer.decode(answer[:end], skip_special_tokens=True)):
            return answer[:end]
    return []
