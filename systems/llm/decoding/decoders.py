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

The parts: `prefill` (the prompt pass), `scheduler` (continuous batching),
`choosers` (the next token), `flops` (the work done), `cache` and `step`.
"""
from __future__ import annotations

from abc import ABC, abstractmethod
from dataclasses import dataclass
from typing import Sequence

from harness.core.errors import MissingPackageError
from harness.core.named import NamedClasses
from harness.core.progress import counter

from systems.llm.decoding.choosers import _argmax, _contiguous_float_copy, longest_complete_prefix
from systems.llm.decoding.flops import decoding_flops
from systems.llm.decoding.prefill import template_prefix
from systems.llm.decoding.scheduler import decode_stream
from systems.llm.decoding.step import skinny_linears

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
