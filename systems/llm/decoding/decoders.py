"""Decoders of the generative tagger: a model, prompts and bounds in; answers
and their counters out.  Registered by name, so that another decoder (a
constrained one, say) is one class.

`GreedyDecoder` is batched greedy decoding with the KV cache:

- the prompt tokens every sentence shares (the template before the sentence)
  are computed once per call and their cache is reused by every batch;
- the rest of each prompt is left-padded after that prefix (masked, with
  positions that skip the padding), prompts taken in order of length;
- a row leaves the batch as soon as it writes the end token or reaches its
  own bound, and its cache rows go with it; waiting prompts join once a
  quarter of the batch is free (continuous batching), so the batch
  stays full rather than draining to its longest answer, and no row's
  answer depends on what else was in its batch;
- the cache keeps spare columns, and rows that leave are replaced by the
  last rows (`cache`); each step runs the model's body, then its head as
  W·hᵀ, and on a CPU a pass of few rows runs every linear layer as W·xᵀ
  (`step`).
"""
from __future__ import annotations

import copy
import os
from abc import ABC, abstractmethod
from dataclasses import dataclass
from typing import Sequence

from harness.core.errors import MissingPackageError
from harness.core.named import NamedClasses
from harness.core.progress import counter

from systems.llm.decoding.cache import filled_from_end, joinable, laid_out, returned_cache, with_cache
from systems.llm.decoding.step import skinny_linears, split_head, step_logits

DECODERS: NamedClasses["Decoder"] = NamedClasses("decoder")
register_decoder = DECODERS.register
get_decoder = DECODERS.create


@dataclass
class Decoded:
    answers: list[list[int]]   # token ids per prompt, in input order, end token left out
    generated_tokens: int      # decoding steps over all rows, end tokens included
    prefill_flops: float = 0.0  # the model's work on the prompts (roofline.TransformerShape)
    decode_flops: float = 0.0   # and on the answer tokens fed back


class Decoder(ABC):
    name: str = ""
    description: str = ""

    needs_grammar: bool = False   # decode() wants one AnswerGrammar per prompt

    @abstractmethod
    def decode(self, model, tokenizer, prompts: list[list[int]], bounds: list[int], *,
               batch_size: int, probes: Sequence[list[int]] = (), grammars: Sequence = (),
               show_progress: bool = False, prefill_batch_size: int | None = None) -> Decoded:
        """Answers to `prompts` (token ids), each at most its bound in tokens,
        decoded `batch_size` rows at a time (prompts run through the model
        `prefill_batch_size` rows at a time, where the decoder can).
        `probes` are prompts of unrelated sentences: what they share with every
        prompt is the template, which a decoder may compute once."""


@register_decoder("free")
class GreedyDecoder(Decoder):
    description = "greedy, KV cache, finished rows leave and waiting prompts join the batch"

    def chooser(self, tokenizer, grammars: Sequence):
        """choose(logits, rows, answers): each row's next token, from its
        logits and its answer so far (`rows`: the prompt index of each row
        still decoding; `answers`: every prompt's answer, by prompt index)."""
        return _argmax

    def decode(self, model, tokenizer, prompts, bounds, *, batch_size, probes=(), grammars=(),
               show_progress=False, prefill_batch_size=None):
        import torch

        order = sorted(range(len(prompts)), key=lambda i: len(prompts[i]))
        with torch.inference_mode(), skinny_linears(model):
            prefix = template_prefix(model, prompts, probes)
            answers, steps = decode_stream(
                model, tokenizer, prompts, bounds, order, batch_size, prefix,
                self.chooser(tokenizer, grammars), prefill_batch_size,
                counter("llm generate", len(prompts), disable=not show_progress))
        return Decoded(answers, steps, *decoding_flops(model, prompts, answers, bounds, prefix[0]))


def decoding_flops(model, prompts, answers, bounds, n_prefix: int) -> tuple[float, float]:
    """(prefill, decoding) FLOPs of one `decode` call, from the lengths alone.

    The shared prefix is computed once; each prompt's rest attends to it.
    Every answer token is fed back except the last one written, unless the
    row stopped at its end token (which is not kept, so all kept tokens were fed)."""
    from harness.measure.roofline import TransformerShape

    shape = TransformerShape.of(model, causal=True)
    prefill = shape.tokens_flops(n_prefix, outputs=1) if n_prefix else 0.0
    decode = 0.0
    for prompt, answer, bound in zip(prompts, answers, bounds):
        prefill += shape.tokens_flops(len(prompt) - n_prefix, n_prefix, outputs=1)
        fed = len(answer) if len(answer) < bound else len(answer) - 1
        decode += shape.tokens_flops(fed, len(prompt))
    return prefill, decode


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


def _argmax(logits, rows, answers):
    return logits.argmax(-1)


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


@register_decoder("constrained")
class ConstrainedDecoder(GreedyDecoder):
    """Greedy decoding that only writes answers the format's grammar accepts:
    each row takes the highest-scoring of its `top_k` tokens that keeps the
    answer a valid prefix, and the end token only after a complete item.
    Where none of them does, or the answer reaches its bound mid-item, it is
    cut back to its longest complete prefix, so every answer parses."""

    description = ("greedy constrained to answers that parse, KV cache, finished rows leave "
                   "and waiting prompts join the batch")
    needs_grammar = True
    top_k = 32

    def chooser(self, tokenizer, grammars):
        import torch

        eos = tokenizer.eos_token_id

        def valid(grammar, answer: list[int], token: int) -> bool:
            if token == eos:
                return grammar.accepts(tokenizer.decode(answer, skip_special_tokens=True))
            # A token may end inside a character of a word split into bytes; the
            # decoder writes U+FFFD for the unfinished bytes, which later tokens
            # complete (and an answer left unfinished is cut back at the end).
            return grammar.accepts_prefix(tokenizer.decode(answer + [token]).rstrip("\ufffd"))

        def choose(logits, rows, answers):
            top = logits.topk(min(self.top_k, logits.shape[-1]), dim=-1).indices.tolist()
            picked = [next((t for t in cands if valid(grammars[i], answers[i], t)), eos)
                      for i, cands in zip(rows, top)]
            return torch.tensor(picked, device=logits.device)

        return choose

    def decode(self, model, tokenizer, prompts, bounds, *, batch_size, probes=(), grammars=(),
               show_progress=False, prefill_batch_size=None):
        decoded = super().decode(model, tokenizer, prompts, bounds, batch_size=batch_size,
                                 probes=probes, grammars=grammars, show_progress=show_progress,
                                 prefill_batch_size=prefill_batch_size)
        decoded.answers = [longest_complete_prefix(tokenizer, g, a)
                           for g, a in zip(grammars, decoded.answers)]
        return decoded


def _contiguous_float_copy(logits):
    import torch

    return logits.to(torch.float32, copy=True, memory_format=torch.contiguous_format)


def longest_complete_prefix(tokenizer, grammar, answer: list[int]) -> list[int]:
    """The longest prefix of `answer` that the grammar accepts as a whole."""
    for end in range(len(answer), -1, -1):
        if grammar.accepts(tokenizer.decode(answer[:end], skip_special_tokens=True)):
            return answer[:end]
    return []


@register_decoder("xgrammar")
class XGrammarDecoder(ConstrainedDecoder):
    """The same constraint through xgrammar: each sentence's grammar
    (`AnswerGrammar.ebnf`) is compiled once, and at every step the row's
    logits are masked to the tokens that keep its answer valid, over the
    whole vocabulary rather than the `top_k` best.  An answer that reaches its
    bound mid-item is still cut back to its longest complete prefix."""

    description = ("greedy constrained by xgrammar token masks (per-sentence grammar), "
                   "KV cache, finished rows leave and waiting prompts join the batch")

    def __init__(self):
        import importlib.util

        if importlib.util.find_spec("xgrammar") is None:
            raise MissingPackageError("decoding 'xgrammar' needs the xgrammar package "
                                      "(pip install 'multinerd-ner-harness[grammar]')")
        self._compilers: dict[int, object] = {}

    def _compiler(self, tokenizer, vocab_size: int):
        import xgrammar as xgr

        key = id(tokenizer)
        if key not in self._compilers:
            info = xgr.TokenizerInfo.from_huggingface(tokenizer, vocab_size=vocab_size,
                                                      stop_token_ids=[tokenizer.eos_token_id])
            self._compilers[key] = xgr.GrammarCompiler(info, cache_enabled=False)
        return self._compilers[key]

    def chooser(self, tokenizer, grammars):
        import xgrammar as xgr

        matchers: dict[int, object] = {}   # prompt index -> its matcher, from its first step
        fed: dict[int, int] = {}           # answer tokens each matcher has accepted
        masks: list = []

        def matcher(i: int, vocab_size: int):
            if i not in matchers:
                compiler = self._compiler(tokenizer, vocab_size)
                matchers[i] = xgr.GrammarMatcher(compiler.compile_grammar(grammars[i].ebnf()))
                fed[i] = 0
            return matchers[i]

        def choose(logits, rows, answers):
            if not masks or masks[0].shape[0] < len(rows):
                masks[:] = [xgr.allocate_token_bitmask(len(rows), logits.shape[-1])]
            mask = masks[0]
            for j, i in enumerate(rows):
                m = matcher(i, logits.shape[-1])
                for token in answers[i][fed[i]:]:
                    m.accept_token(token)
                fed[i] = len(answers[i])
                m.fill_next_token_bitmask(mask, j)
            scores = _contiguous_float_copy(logits)   # the step may hand a strided view
            xgr.apply_token_bitmask_inplace(scores, mask[:len(rows)].to(scores.device))
            return scores.argmax(-1)

        return choose
