"""What every generative tagger shares, fine-tuned or prompted: a prompter
builds each sentence's prompt, a decoder (run by an engine) writes the answers,
each bounded by the longest valid answer of its sentence, and the prompt
format's parser reads them back to tags, counting malformed and hallucinated
items.  The fine-tuned tagger (`tagger`) adds LoRA training; the prompted one
(`prompted`) adds in-context examples."""
from __future__ import annotations

import dataclasses
from typing import ClassVar, Sequence

from harness.core.errors import ConfigError
from harness.core.system import Counters, NERSystem, SystemConfig, inference_field, unhashed_default

from systems.llm import lora as llm_lora
from systems.llm.decoding.decoders import get_decoder
from systems.llm.engines import engine_requirements, with_engine
from systems.llm.formats import get_format
from systems.llm.prompter import Prompter, Shot


@dataclasses.dataclass
class GenerationConfig(SystemConfig):
    """The fields of prompting and decoding, which every generative tagger has."""

    model: str = "NousResearch/Llama-2-7b-hf"
    prompt_format: str = "wordtag"
    batch_size: int = 4
    # Generation batch and decoder: prediction only, so runs differing in them share a model.
    eval_batch_size: int = inference_field(16)
    quantization: str = "auto"         # auto: nf4 on CUDA, none on CPU; or "nf4", "none"
    # "free", "constrained" or "xgrammar" (decoding.decoders)
    decoding: str = unhashed_default("free", inference=True)
    # What runs the decoder: a registered engine (engines.ENGINES: "transformers", "vllm")
    engine: str = unhashed_default("transformers", inference=True)
    tensor_parallel_size: int = unhashed_default(1, inference=True)   # vLLM only
    # Prompts run through the model this many rows at a time (None: the whole generation
    # batch at once); on a CPU a narrow prompt pass stays in cache while decoding runs wide.
    prefill_batch_size: int | None = unhashed_default(None, inference=True)
    # A 4-bit base while predicting: "beside" (the adapter beside the 4-bit layers, as
    # trained) or "dequantized" (lora.QUANTIZED_DECODING); no effect on an fp32 base.
    quantized_decoding: str = unhashed_default("beside", inference=True)


@dataclasses.dataclass
class GenerationCounters(Counters):
    title: ClassVar[str] = "Generated answers (test)"
    legend: ClassVar[str] = (
        "Malformed: an item that cannot be read or has a type outside the scheme. "
        "Hallucinated: an entity whose words are not in the sentence (dropped).")
    sentences: int = 0
    malformed_items: int = 0
    hallucinated_entities: int = 0
    sentences_with_problems: int = dataclasses.field(
        default=0, metadata={"label": "sentences with a problem"})
    generated_tokens: int = 0

    def output_tokens(self) -> int:
        return self.generated_tokens


class GenerativeTagger(NERSystem):
    """Decode, parse, count; subclasses say how the weights come to be."""

    requires = ("torch", "transformers", "accelerate", "peft")
    optional = ("bitsandbytes", "gguf")
    Counters = GenerationCounters

    def __init__(self, scheme, config: GenerationConfig):
        super().__init__(scheme, config)
        self.format = get_format(config.prompt_format)
        self.prompter = Prompter(self.format, scheme)
        self.decoder = with_engine(get_decoder(config.decoding), config.engine,
                                   config.tensor_parallel_size)
        if self.decoder.needs_grammar and self.format.grammar([], scheme) is None:
            raise ConfigError(f"decoding {config.decoding!r} needs a prompt format with a "
                              f"grammar; {config.prompt_format!r} has none")
        self.quantized = llm_lora.use_4bit(config.quantization)
        llm_lora.check_quantized_decoding(config.quantized_decoding)
        self.weights: llm_lora.AdapterWeights | None = None
        self.stats = self.Counters()
        self._raw: list[dict] | None = None   # answers of the last predict(), for raw_outputs()
        self.flops_by_phase = {"prefill": 0.0, "decode": 0.0}   # model work of every generate()

    @classmethod
    def config_requirements(cls, config: GenerationConfig) -> tuple[str, ...]:
        return engine_requirements(config.engine)

    @property
    def model(self):
        return self.weights.model if self.weights else None

    @property
    def tokenizer(self):
        return self.prompter.tokenizer

    @tokenizer.setter
    def tokenizer(self, value) -> None:
        self.prompter.tokenizer = value

    # ------------------------------------------------------------ prompts
    def shots_for(self, tokens: Sequence[str]) -> Sequence[Shot]:
        """The worked examples put before `tokens`' question (none by default)."""
        return ()

    def messages(self, tokens: Sequence[str]) -> list[dict]:
        return self.prompter.messages(tokens, self.shots_for(tokens))

    def prompt_ids(self, tokens: Sequence[str]) -> list[int]:
        return self.prompter.ids(self.messages(tokens))

    def probe_prompts(self) -> list[list[int]]:
        """Prompts of two unrelated sentences: what they share with every prompt
        is the template head."""
        return [self.prompt_ids(["Zq"]), self.prompt_ids(["1", "."])]

    def max_new_tokens(self, tokens: Sequence[str]) -> int:
        return self.prompter.max_new_tokens(tokens)

    # ------------------------------------------------------------ predict
    def generate(self, sentences: Sequence[Sequence[str]], batch_size: int | None = None,
                 show_progress: bool = False, keep_merged: bool = True) -> list[str]:
        """The decoder's answers as text, in input order."""
        if self.model is None:
            raise RuntimeError("generate() before train() or load()")
        prompts = [self.prompt_ids(s) for s in sentences]
        bounds = [self.max_new_tokens(s) for s in sentences]
        probes = self.probe_prompts()
        grammars = ([self.format.grammar(s, self.scheme) for s in sentences]
                    if self.decoder.needs_grammar else [])
        self.model.eval()
        with self.weights.for_decoding(keep_merged) as model:
            decoded = self.decoder.decode(
                model, self.tokenizer, prompts, bounds, probes=probes, grammars=grammars,
                batch_size=batch_size or self.config.eval_batch_size, show_progress=show_progress,
                prefill_batch_size=self.config.prefill_batch_size)
        self.stats.generated_tokens += decoded.generated_tokens
        self.flops_by_phase["prefill"] += decoded.prefill_flops
        self.flops_by_phase["decode"] += decoded.decode_flops
        return [self.tokenizer.decode(a, skip_special_tokens=True) for a in decoded.answers]

    def _tags(self, sentences, show_progress: bool = False, keep_merged: bool = True,
              batch_size: int | None = None) -> list[list[str]]:
        answers = self.generate(sentences, batch_size=batch_size, show_progress=show_progress,
                                keep_merged=keep_merged)
        tags, self._raw = [], []
        for s, text in zip(sentences, answers):
            parsed = self.format.parse(text, s, self.scheme)
            self._raw.append({"answer": text, "problems": parsed.problems})
            self.stats.malformed_items += parsed.malformed
            self.stats.hallucinated_entities += parsed.hallucinated
            self.stats.sentences_with_problems += bool(parsed.problems)
            self.stats.sentences += 1
            tags.append(parsed.tags)
        return tags

    def predict(self, sentences: Sequence[Sequence[str]], *, show_progress: bool = False,
                batch_size: int | None = None) -> list[list[str]]:
        return self._tags(sentences, show_progress=show_progress, batch_size=batch_size)

    def prediction_stats(self) -> GenerationCounters:
        return dataclasses.replace(self.stats)

    def reset_stats(self) -> None:
        self.stats = self.Counters()

    def raw_outputs(self) -> list[dict] | None:
        return self._raw

    def flops_done(self) -> float:
        return sum(self.flops_by_phase.values())

    def runtime_info(self) -> dict:
        import torch

        device = str(next(self.model.parameters()).device) if self.model is not None else "?"
        compute = llm_lora.compute_dtype_name(self.quantized)
        batch = self.config.eval_batch_size
        return {"device": device, "dtype": f"nf4+{compute}" if self.quantized else "float32",
                "threads": torch.get_num_threads(), "batch_size": batch,
                "prefill_batch_size": min(self.config.prefill_batch_size or batch, batch),
                "max_new_tokens": "longest possible answer of each sentence",
                "decoding": self.decoder.description,
                "lora": self.weights.describe() if self.weights else "–"}
