"""Word <-> sub-token alignment shared by sub-word systems.

Words are tokenised once without special tokens; a sentence whose sub-tokens
do not fit the model is split into word windows, so that every word gets a
prediction and nothing is silently truncated.  Following run_ner.py, the
label of a word sits on its first sub-token and the others get -100.
"""
from __future__ import annotations

from dataclasses import dataclass
from typing import Sequence

IGNORE_INDEX = -100


@dataclass
class Window:
    sentence: int        # index of the sentence in the input
    start: int           # first word of the window
    input_ids: list[int]
    first_subtoken: list[int]  # position in input_ids of each word's first sub-token

    @property
    def n_words(self) -> int:
        return len(self.first_subtoken)


def make_windows(tokenizer, sentences: Sequence[Sequence[str]], max_length: int) -> list[Window]:
    """Split sentences into windows of at most `max_length` ids (specials included)."""
    prefix, suffix = special_affixes(tokenizer)
    budget = max_length - len(prefix) - len(suffix)
    if budget < 1:
        raise ValueError(f"max_length {max_length} leaves no room besides special tokens")
    enc = tokenizer([list(s) for s in sentences], is_split_into_words=True,
                    add_special_tokens=False)
    windows: list[Window] = []
    for i, words in enumerate(sentences):
        # Sub-token ids of each word; a word that yields none (odd unicode)
        # still needs a slot, so it gets the unknown token.
        per_word: list[list[int]] = [[] for _ in words]
        for pos, w in enumerate(enc.word_ids(i)):
            if w is not None:
                per_word[w].append(enc["input_ids"][i][pos])
        per_word = [ids[:budget] or [tokenizer.unk_token_id] for ids in per_word]
        start, ids, firsts = 0, [], []
        for w, word_ids in enumerate(per_word):
            if ids and len(ids) + len(word_ids) > budget:
                windows.append(_close(prefix, suffix, i, start, ids, firsts))
                start, ids, firsts = w, [], []
            firsts.append(len(ids))
            ids.extend(word_ids)
        windows.append(_close(prefix, suffix, i, start, ids, firsts))
    return windows


def special_affixes(tokenizer) -> tuple[list[int], list[int]]:
    """The special ids a tokenizer puts before and after one sequence
    ([CLS] and [SEP] for BERT), found by encoding a probe word."""
    bare = tokenizer("a", add_special_tokens=False)["input_ids"]
    full = tokenizer("a")["input_ids"]
    for k in range(len(full) - len(bare) + 1):
        if full[k:k + len(bare)] == bare:
            return full[:k], full[k + len(bare):]
    raise ValueError(f"cannot locate special tokens of {type(tokenizer).__name__}")


def _close(prefix: list[int], suffix: list[int], sentence: int, start: int,
           ids: list[int], firsts: list[int]) -> Window:
    return Window(sentence, start, prefix + ids + suffix, [len(prefix) + f for f in firsts])


def window_labels(window: Window, word_label_ids: Sequence[int]) -> list[int]:
    """Label ids on first sub-tokens, IGNORE_INDEX elsewhere."""
    labels = [IGNORE_INDEX] * len(window.input_ids)
    for k, pos in enumerate(window.first_subtoken):
        labels[pos] = word_label_ids[window.start + k]
    return labels
