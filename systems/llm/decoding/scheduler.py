"""Continuous batching: at most `batch_size` rows decoding at once; a row
leaves at its end token or bound, and waiting prompts join once a quarter of
the batch is free, so the batch stays full instead of draining to its longest
answer, and no row's answer depends on what else was in its batch."""
from __future__ import annotations

from dataclasses import dataclass

from systems.llm.decoding.cache import filled_from_end, joinable, laid_out
from systems.llm.decoding.choosers import _argmax
from systems.llm.decoding.prefill import _left_padded, _prefill, _right_aligned_mask, _row_lengths
from systems.llm.decoding.step import split_head, step_logits


@dataclass
class _Rows:
    """Rows decoding together: each row's prompt index, the KV cache and
    attention mask in the layout [prefix | padding | prompt rest and answer],
    the position of each row's last token, and the tokens chosen for the rows
    but not yet written to their answers."""
    ids: list[int]
    cache: object
    mask: object
    position: object
    nxt: object

    def keep(self, kept: list[int]) -> None:
        """Keep only the rows `kept`; the last rows fill the gaps, so the
        cache copies as many rows as leave rather than all that stay."""
        if len(kept) < len(self.ids):
            order = filled_from_end(kept)
            index = self.mask.new_tensor(order)
            self.cache.batch_select_indices(index)
            self.mask, self.position, self.nxt = (self.mask[index], self.position[index],
                                                  self.nxt[index])
            self.ids = [self.ids[j] for j in order]

    def step(self, model, split):
        """Feed each row its chosen token; the logits of the next (`split`:
        the model's body and head where `step` can run them apart)."""
        import torch

        self.mask = torch.cat([self.mask, self.mask.new_ones((len(self.ids), 1))], dim=1)
        self.position = self.position + 1
        logits, self.cache = step_logits(model, split, self.cache, input_ids=self.nxt[:, None],
                                         attention_mask=self.mask, position_ids=self.position)
        return logits


def _joined(a: _Rows, b: _Rows, n_prefix: int) -> _Rows:
    """Rows `a` and `b` as one batch, right-aligned, padding only as wide as
    the widest row needs (columns no row attends to any more are dropped)."""
    import torch

    la, lb = _row_lengths(a.mask, n_prefix), _row_lengths(b.mask, n_prefix)
    wa, wb = int(la.max()), int(lb.max())   # padding is on the left: the widest row's
    full, n = max(wa, wb), len(a.ids) + len(b.ids)
    cache = laid_out([(0, len(a.ids), wa, a.cache), (len(a.ids), n, wb, b.cache)],
                     n, n_prefix, full)
    mask = _right_aligned_mask(torch.cat([la, lb]), n_prefix, full).to(a.mask.dtype)
    return _Rows(a.ids + b.ids, cache, mask, torch.cat([a.position, b.position]),
                 torch.cat([a.nxt, b.nxt]))


def _start(model, tokenizer, prompts, ids: list[int], prefix, choose, prefill_rows,
           answers) -> _Rows:
    """Rows for prompts `ids`: their prompt pass, and each one's first token."""
    n_prefix, prefix_cache = prefix
    device = next(model.parameters()).device
    tokens, mask, positions = _left_padded([prompts[i] for i in ids], n_prefix,
                                           tokenizer.pad_token_id, device)
    logits, cache = _prefill(model, tokens, mask, positions, prefix_cache, n_prefix, prefill_rows)
    rows = _Rows(list(ids), cache, mask, positions[:, -1:], None)
    rows.nxt = choose(logits, rows.ids, answers)
    return rows


JOIN_FRACTION = 4   # prompts join once 1/4 of the batch is free (1/2, 1/8 and 1/16 ran slower)


def decode_stream(model, tokenizer, prompts: list[list[int]], bounds: list[int],
                  order: list[int], batch_size: int, prefix=(0, None), choose=_argmax,
                  prefill_rows: int | None = None, done=None) -> tuple[list[list[int]], int]:
    """Every prompt's answer, and the decoding steps over all rows.

    Prompts enter in `order`, at most `batch_size` rows decoding at once.  A
    row leaves as soon as it writes the end token or reaches its bound; once
    a quarter of the batch is free the next prompts join (their prompt pass
    `prefill_rows` at a time), so the batch stays full instead of draining to
    its longest answer.  Joining copies the cache once, so rows join in
    groups rather than one by one.  Each row's numbers are those of its own
    prompt: padding is masked and positions are per row."""
    answers: list[list[int]] = [[] for _ in prompts]
    waiting, live, steps, finished = list(reversed(order)), None, 0, 0
    join = -(-batch_size // JOIN_FRACTION)
    eos, split = tokenizer.eos_token_id, split_head(model)
    while waiting or live is not None:
        free = batch_size - (len(live.ids) if live else 0)
        if waiting and (live is None or (free >= min(join, len(waiting))
                                         and joinable(live.cache))):
            new = [waiting.pop() for _ in range(min(free, len(waiting)))]
            fresh = _start(model, tokenizer, prompts, new, prefix, choose, prefill_rows, answers)
            live = fresh if live is None else _joined(live, fresh, prefix[0])
        steps += len(live.ids)
        kept = _extend(answers, live.ids, live.nxt.tolist(), bounds, eos)
        finished += len(live.ids) - len(kept)
        if done is not None:
            done.update(finished)
        if not kept:
            live = None
            continue
        live.keep(kept)
        live.nxt = choose(live.step(model, split), live.ids, answers)
    return answers, steps


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
