"""Decoders of the generative tagger: a model, prompts and bounds in; answers
and their counters out.  Registered by name, so that another decoder (a
constrained one, say) is one class.

`GreedyDecoder` is batched greedy decoding with the KV cache:

- the prompt tokens every sentence shares (the template before the sentence)
  are computed once per call and their cache is reused by every batch;
- the rest of each prompt is left-padded after that prefix (masked, with
  positions that skip the padding), batches grouped by prompt length;
- a row leaves the batch as soon as it writes the end token or reaches its
  own bound, and its cache rows go with it, so one looping answer costs
  single-row steps instead of holding up the batch, and no row's answer
  depends on what else was in its batch.
"""
from __future__ import annotations

import copy
import os
from abc import ABC, abstractmethod
from dataclasses import dataclass
from typing import Sequence

from harness.core.named import NamedClasses
from harness.core.progress import progress

DECODERS: NamedClasses["Decoder"] = NamedClasses("decoder")
register_decoder = DECODERS.register
get_decoder = DECODERS.create


@dataclass
class Decoded:
    answers: list[list[int]]   # token ids per prompt, in input order, end token left out
    generated_tokens: int      # decoding steps over all rows, end tokens included


class Decoder(ABC):
    name: str = ""
    description: str = ""

    @abstractmethod
    def decode(self, model, tokenizer, prompts: list[list[int]], bounds: list[int], *,
               batch_size: int, probes: Sequence[list[int]] = (),
               show_progress: bool = False) -> Decoded:
        """Answers to `prompts` (token ids), each at most its bound in tokens.
        `probes` are prompts of unrelated sentences: what they share with every
        prompt is the template, which a decoder may compute once."""


@register_decoder("free")
class GreedyDecoder(Decoder):
    description = "greedy, KV cache, finished rows leave the batch"

    def decode(self, model, tokenizer, prompts, bounds, *, batch_size, probes=(),
               show_progress=False):
        import torch

        order = sorted(range(len(prompts)), key=lambda i: len(prompts[i]))
        batches = [order[i:i + batch_size] for i in range(0, len(order), batch_size)]
        answers: list[list[int]] = [[] for _ in prompts]
        steps = 0
        with torch.inference_mode():
            prefix = template_prefix(model, prompts, probes)
            for batch in progress(batches, desc="llm generate", disable=not show_progress):
                rows, n = decode_batch(model, tokenizer, [prompts[i] for i in batch],
                                       [bounds[i] for i in batch], prefix)
                steps += n
                for i, answer in zip(batch, rows):
                    answers[i] = answer
        return Decoded(answers, steps)


def template_prefix(model, prompts: list[list[int]], probes: Sequence[list[int]]):
    """(length, KV cache) of the tokens every prompt and probe share.

    The probes make the prefix what the template writes before any sentence,
    so it is the same whatever sentences or batch size come in, and batching
    never changes the numbers."""
    import torch

    n = len(os.path.commonprefix(list(probes) + prompts))
    n = min(n, min((len(p) for p in prompts), default=0) - 1)  # each row keeps a token
    if n <= 0:
        return 0, None
    device = next(model.parameters()).device
    out = model(input_ids=torch.tensor([prompts[0][:n]], device=device), use_cache=True)
    return n, out.past_key_values


def _left_padded(prompts: list[list[int]], n_prefix: int, pad_id: int, device):
    """Ids of each prompt after the prefix, left-padded; mask and positions
    cover the prefix too."""
    import torch

    rests = [p[n_prefix:] for p in prompts]
    width = max(len(r) for r in rests)
    ids = torch.full((len(rests), width), pad_id, dtype=torch.long)
    mask = torch.zeros((len(rests), n_prefix + width), dtype=torch.long)
    mask[:, :n_prefix] = 1
    for row, r in enumerate(rests):
        ids[row, width - len(r):] = torch.tensor(r)
        mask[row, n_prefix + width - len(r):] = 1
    ids, mask = ids.to(device), mask.to(device)
    positions = (mask.cumsum(-1) - 1).clamp(min=0)[:, n_prefix:]
    return ids, mask, positions


def decode_batch(model, tokenizer, prompts: list[list[int]], bounds: list[int],
                 prefix=(0, None)) -> tuple[list[list[int]], int]:
    """Greedy answers of one batch, and the number of decoding steps over its rows."""
    import torch

    device = next(model.parameters()).device
    n_prefix, prefix_cache = prefix
    ids, mask, positions = _left_padded(prompts, n_prefix, tokenizer.pad_token_id, device)
    cache = None
    if prefix_cache is not None:
        cache = copy.deepcopy(prefix_cache)
        cache.batch_repeat_interleave(len(prompts))
    out = model(input_ids=ids, attention_mask=mask, position_ids=positions,
                past_key_values=cache, use_cache=True, logits_to_keep=1)
    cache, position = out.past_key_values, positions[:, -1:]
    nxt = out.logits[:, -1].argmax(-1)
    rows = list(range(len(prompts)))          # batch row -> prompt index
    answers: list[list[int]] = [[] for _ in prompts]
    steps = 0
    while True:
        steps += len(rows)
        keep = _extend(answers, rows, nxt.tolist(), bounds, tokenizer.eos_token_id)
        if not keep:
            return answers, steps
        if len(keep) < len(rows):
            index = torch.tensor(keep, device=device)
            cache.batch_select_indices(index)
            mask, position, nxt = mask[index], position[index], nxt[index]
            rows = [rows[j] for j in keep]
        mask = torch.cat([mask, mask.new_ones((len(rows), 1))], dim=1)
        position = position + 1
        out = model(input_ids=nxt[:, None], attention_mask=mask, position_ids=position,
                    past_key_values=cache, use_cache=True)
        cache = out.past_key_values
        nxt = out.logits[:, -1].argmax(-1)


def _extend(answers, rows, tokens, bounds, eos) -> list[int]:
    """Append each row's new token; return the batch rows that go on."""
    keep = []
    for j, (i, t) in enumerate(zip(rows, tokens)):
        if t == eos:
            continue
        answers[i].append(t)
        if len(answers[i]) < bounds[i]:
            keep.append(j)
    return keep
