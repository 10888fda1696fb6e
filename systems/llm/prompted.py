"""The generative tagger with no fine-tuning: k worked examples from the
training split in the prompt (in-context learning), as EuroEval and spacy-llm
score NER.

Everything else is the generative base's, as the fine-tuned tagger has it: the
prompt formats, the parser, the counters and the (constrained) decoder.  The
examples are chat turns before the question (the prompter's shots): a user turn
with the example's instruction and an assistant turn with its gold answer.
"""
from __future__ import annotations

import dataclasses
import json
import math
import random
from collections import Counter
from pathlib import Path
from typing import ClassVar, Sequence

from harness.core.errors import ConfigError, ModelNotFoundError
from harness.core.registry import register_system
from harness.core.sources import resolve_llm
from harness.core.system import ReportSection, inference_field

from systems.llm import lora as llm_lora
from systems.llm.generative import GenerationConfig, GenerationCounters, GenerativeTagger
from systems.llm.prompter import Shot

SHOT_SELECTIONS = ("random", "overlap")
POOL_FILE = "examples.json"


@dataclasses.dataclass
class PromptedConfig(GenerationConfig):
    """Prompting and decoding, and the examples; nothing of training."""

    # The LoRA training fields this config had while it shared the fine-tuned
    # tagger's, at the values every prompted run had: hashed as before, settable never.
    retired: ClassVar[dict] = {
        "gradient_accumulation_steps": 4, "learning_rate": 0.0002, "lora_r": 256,
        "lora_alpha": 256, "lora_dropout": 0.05, "gradient_checkpointing": True,
        "max_length": 512, "eval_generate_limit": 200, "eval_loss_limit": None}
    retired_unhashed: ClassVar[tuple[str, ...]] = ("warmup_steps", "lr_scheduler_type",
                                                   "training_forward")
    epochs: int = 0
    shots: int = 5                       # k, the worked examples in each prompt
    # "random": the same k seeded examples for every sentence; "overlap": per sentence,
    # the k training sentences sharing the most words with it (rarer words weigh more)
    shot_selection: str = "random"
    decoding: str = inference_field("constrained")


@dataclasses.dataclass
class PromptedCounters(GenerationCounters):
    prompt_tokens: int = dataclasses.field(default=0, metadata={"label": "prompt tokens (sum)"})


class ShotPool:
    """The training sentences examples are drawn from, and the choice of k of
    them for a sentence; deterministic for a seed."""

    def __init__(self, tokens: Sequence[Sequence[str]], tags: Sequence[Sequence[str]], k: int,
                 selection: str, seed: int):
        if selection not in SHOT_SELECTIONS:
            raise ConfigError(f"shot_selection {selection!r}; known: {', '.join(SHOT_SELECTIONS)}")
        if k < 0:
            raise ConfigError(f"shots must be 0 or more, got {k}")
        self.tokens, self.tags = [list(t) for t in tokens], [list(t) for t in tags]
        self.k, self.selection, self.seed = min(k, len(self.tokens)), selection, seed
        order = list(range(len(self.tokens)))
        random.Random(seed).shuffle(order)
        self.rank = {i: r for r, i in enumerate(order)}   # the seeded tie-break
        self.fixed = order[: self.k]
        self.index = self._word_index() if selection == "overlap" else {}

    @staticmethod
    def _words(tokens: Sequence[str]) -> set[str]:
        return {t.lower() for t in tokens if any(c.isalnum() for c in t)}

    def _word_index(self) -> dict[str, list[int]]:
        index: dict[str, list[int]] = {}
        for i, tokens in enumerate(self.tokens):
            for word in self._words(tokens):
                index.setdefault(word, []).append(i)
        return index

    def choose(self, tokens: Sequence[str]) -> list[int]:
        """Indices of the k examples for `tokens`, the most similar last (nearest the question)."""
        if self.selection == "random" or not self.k:
            return list(self.fixed)
        n = len(self.tokens)
        weights: Counter = Counter()
        for word in self._words(tokens):
            postings = self.index.get(word, ())
            for i in postings:
                weights[i] += math.log(n / len(postings))
        best = sorted(range(n), key=lambda i: (-weights[i], self.rank[i]))[: self.k]
        return best[::-1]

    def to_dict(self) -> dict:
        return {"tokens": self.tokens, "tags": self.tags}


@register_system("llm-prompted")
class PromptedTagger(GenerativeTagger):
    description = "decoder LLM with k in-context examples and no fine-tuning, generative tagging"
    seed_controls = ("which training sentences are the in-context examples (`random` "
                     "selection) or the tie-break between equally close ones (`overlap`); "
                     "decoding is greedy")
    Config = PromptedConfig
    Counters = PromptedCounters
    PROFILES = {
        "full": {"model": "NousResearch/Llama-2-7b-chat-hf"},
        "offline": {"model": "smollm2-135m-instruct"},
    }

    def __init__(self, scheme, config: PromptedConfig):
        super().__init__(scheme, config)
        self.pool: ShotPool | None = None

    def shots_for(self, tokens: Sequence[str]) -> list[Shot]:
        chosen = self.pool.choose(tokens) if self.pool else []
        return [(self.pool.tokens[i], self.pool.tags[i]) for i in chosen]

    def prompt_ids(self, tokens: Sequence[str]) -> list[int]:
        ids = super().prompt_ids(tokens)
        self.stats.prompt_tokens += len(ids)
        return ids

    def probe_prompts(self) -> list[list[int]]:
        before = self.stats.prompt_tokens
        probes = super().probe_prompts()
        self.stats.prompt_tokens = before   # probes are not sentences
        return probes

    def train(self, train, validation, workdir: Path | None = None) -> list[dict]:
        """No training: load the base model and keep the example pool."""
        self._ready(train["tokens"], train["tags"])
        return []

    def _ready(self, tokens, tags) -> None:
        """The base model and the pool the examples are drawn from (as trained or loaded)."""
        cfg = self.config
        base, self.tokenizer = llm_lora.load_base(resolve_llm(cfg.model), self.quantized, self.notes)
        self.weights = llm_lora.AdapterWeights(base, self.quantized)
        self.pool = ShotPool(tokens, tags, cfg.shots, cfg.shot_selection, cfg.seed)
        self._note_examples()

    def _note_examples(self) -> None:
        how = ("the same seeded examples for every sentence" if self.pool.selection == "random"
               else "per sentence, the training sentences sharing the most words with it")
        self.notes.append(f"no fine-tuning: k = {self.pool.k} in-context examples ({how}; "
                          f"shot_selection={self.pool.selection}) from "
                          f"{len(self.pool.tokens):,} training sentences")

    def save(self, path: Path) -> None:
        super().save(path)   # the config; there is no adapter
        (Path(path) / POOL_FILE).write_text(json.dumps(self.pool.to_dict()))

    def _load_weights(self, path: Path) -> None:
        pool_file = Path(path) / POOL_FILE
        if not pool_file.is_file():
            raise ModelNotFoundError(f"{pool_file}: the saved example pool is missing")
        pool = json.loads(pool_file.read_text())
        self._ready(pool["tokens"], pool["tags"])

    def runtime_info(self) -> dict:
        return super().runtime_info() | {
            "lora": "none (no fine-tuning)",
            "in-context examples": f"{self.config.shots} ({self.config.shot_selection})"}

    @classmethod
    def report_sections(cls, counters: dict | None) -> list[ReportSection]:
        sections = super().report_sections(counters)
        if sections and counters.get("sentences"):
            mean = counters.get("prompt_tokens", 0) / counters["sentences"]
            sections[0].text = (sections[0].text + " " if sections[0].text else "") + (
                f"Prompts average {mean:.0f} tokens (examples and template included).")
        return sections
