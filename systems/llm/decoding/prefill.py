"""The prompt pass: the template prefix every prompt shares, computed once;
the rest of each prompt left-padded after it (mask and positions per row);
prompts run `rows` at a time and their caches laid out as one batch."""
from __future__ import annotations

import copy
import os
from typing import Sequence

from systems.llm.decoding.cache import joinable, laid_out, returned_cache, with_cache


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
    out = model(input_ids=torch.tensor([prompts[0][:n]], device=device), use_cache=True,
                logits_to_keep=1)   # its logits are not read; the head would cost a vocabulary per token
    return n, returned_cache(out)


def _left_padded(prompts: list[list[int]], n_prefix: int, pad_id: int, device):
    """Ids of each prompt after the prefix, left-padded; mask and positions
    cover the prefix too."""
    import torch

    rests = [p[n_prefix:] for p in prompts]
    width = max(len(r) for r in rests)
    ids = torch.full((len(rests), width), pad_id, dtype=torch.long)
    for row, r in enumerate(rests):
        ids[row, width - len(r):] = torch.tensor(r)
    mask = _right_aligned_mask(torch.tensor([len(r) for r in rests]), n_prefix, width)
    ids, mask = ids.to(device), mask.to(device)
    positions = (mask.cumsum(-1) - 1).clamp(min=0)[:, n_prefix:]
    return ids, mask, positions


def _right_aligned_mask(counts, n_prefix: int, width: int):
    """Attention mask [prefix | padding | each row's `counts` tokens]."""
    import torch

    columns = torch.arange(width, device=counts.device)
    rest = (columns[None, :] >= width - counts[:, None]).long()
    return torch.cat([rest.new_ones((len(counts), n_prefix)), rest], dim=1)


def _row_lengths(mask, n_prefix: int):
    """Tokens after the prefix that each row attends to."""
    return mask[:, n_prefix:].sum(-1)


def _prefill(model, ids, mask, positions, prefix_cache, n_prefix: int, rows: int | None):
    """(last-token logits, cache) of a left-padded batch of prompts, run
    through the model `rows` prompts at a time (None: all at once).

    Decoding wants wide batches, but a wide prompt pass spills its
    activations out of the CPU's caches (on 2 cores: 122 GFLOP/s at 16 rows,
    43 at 256).  Each chunk is cut to its own width; its cache is written
    back into the batch's layout, [prefix | padding | rest], the padding
    masked, so every row's numbers are those of one pass."""
    import torch

    def run(r0, r1, width):
        cache = None
        if prefix_cache is not None:
            cache = copy.deepcopy(prefix_cache)
            cache.batch_repeat_interleave(r1 - r0)
        m = torch.cat([mask[r0:r1, :n_prefix], mask[r0:r1, mask.shape[1] - width:]], dim=1)
        out = model(**with_cache(model, cache, input_ids=ids[r0:r1, -width:], attention_mask=m,
                                 position_ids=positions[r0:r1, -width:], use_cache=True,
                                 logits_to_keep=_last_column(width, ids.device)))
        return out.logits[:, -1], returned_cache(out)

    n, full = ids.shape
    if rows is None or rows >= n:
        logits, cache = run(0, n, full)
        if joinable(cache):     # one part: the same layout, now with spare columns
            cache = laid_out([(0, n, full, cache)], n, n_prefix, full)
        return logits, cache
    logits, parts = [], []            # parts: (first row, last row + 1, width, cache)
    for r0 in range(0, n, rows):
        r1 = min(r0 + rows, n)
        width = int(_row_lengths(mask[r0:r1], n_prefix).max())
        chunk_logits, cache = run(r0, r1, width)
        if not joinable(cache):    # transformers before per-layer caches: one pass
            return run(0, n, full)
        logits.append(chunk_logits)
        parts.append((r0, r1, width, cache))
    return torch.cat(logits), laid_out(parts, n, n_prefix, full)


def _last_column(width: int, device):
    """`logits_to_keep` for the last column of a left-padded batch.  As an
    index rather than `1`: the slice `1` keeps is strided across rows, and
    with frozen weights (decoding) torch runs the head on it as a batched
    product over the weight expanded per row (on 2 CPU cores, 82 ms for 16
    rows against about 9 for one matrix product); an index copies the rows
    together first."""
    import torch

    return torch.tensor([width - 1], device=device)
