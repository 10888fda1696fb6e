"""A decoder LLM fine-tuned with (Q)LoRA to write a sentence's entities.

The parts: a prompt format (`llm_formats`) turns a sentence into an
instruction and gold tags into the answer, with the loss on the answer tokens
only; `llm_lora` loads the base (4-bit on CUDA) and trains the adapter; a
decoder (`llm_decoding`) writes the answers, each bounded by the longest
valid answer of its sentence; the format's parser reads them back to tags,
counting malformed and hallucinated items.
"""
from __future__ import annotations

import dataclasses
import os
from pathlib import Path
from typing import ClassVar, Sequence

from harness.core import distributed
from harness.core.errors import ConfigError
from harness.evaluation.metrics import score
from harness.core.registry import register_system
from harness.core.sources import resolve_llm
from harness.core.system import (Counters, NERSystem, SystemConfig, inference_field,
                                 unhashed_default)

from systems.llm import lora as llm_lora
from systems.common.alignment import IGNORE_INDEX
from systems.llm.decoding.decoders import get_decoder
from systems.llm.formats import get_format
from systems.llm.training import TRAINING_FORWARDS, cheaper_dropout, loss_trainer
from systems.llm.engines import engine_requirements, with_engine
from systems.common.trainer_utils import (checkpoint_dir, epoch_timer, epoch_training_arguments,
                            history_from_log, train_resuming)

SYSTEM_MESSAGE = "You are a named-entity tagger."


@dataclasses.dataclass
class LLMConfig(SystemConfig):
    model: str = "NousResearch/Llama-2-7b-hf"
    prompt_format: str = "wordtag"
    epochs: int = 2
    batch_size: int = 4
    gradient_accumulation_steps: int = 4
    # Generation batch and decoder: prediction only (the adapter of the last epoch is kept,
    # whatever per-epoch validation decoding scored), so runs differing in them share a model.
    eval_batch_size: int = inference_field(16)
    learning_rate: float = 2e-4
    lora_r: int = 256
    lora_alpha: int = 256
    lora_dropout: float = 0.05
    quantization: str = "auto"         # auto: nf4 on CUDA, none on CPU; or "nf4", "none"
    gradient_checkpointing: bool = True
    max_length: int = 512              # prompt + answer tokens in training
    eval_generate_limit: int = 200     # validation sentences decoded per epoch for P/R/F1
    eval_loss_limit: int | None = None # validation sentences for the per-epoch eval loss (None: all)
    seed: int = 42
    warmup_steps: float = unhashed_default(0.03)   # below 1: a share of the training steps
    lr_scheduler_type: str = unhashed_default("cosine")
    # "free", "constrained" or "xgrammar" (llm_decoding)
    decoding: str = unhashed_default("free", inference=True)
    # "full", "answer" or "shared-prefix" (llm_training): where the training loss's compute goes
    training_forward: str = unhashed_default("full")
    # What runs the decoder: a registered engine (engines.ENGINES: "transformers", "vllm")
    engine: str = unhashed_default("transformers", inference=True)
    tensor_parallel_size: int = unhashed_default(1, inference=True)   # vLLM only
    # Prompts run through the model this many rows at a time (None: the whole generation
    # batch at once); on a CPU a narrow prompt pass stays in cache while decoding runs wide.
    prefill_batch_size: int | None = unhashed_default(None, inference=True)
    # A 4-bit base while predicting: "beside" (the adapter beside the 4-bit layers, as
    # trained) or "dequantized" (llm_lora.QUANTIZED_DECODING); no effect on an fp32 base,
    # whose adapter is always merged for decoding.
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


@register_system("llm")
class LLMTagger(NERSystem):
    description = "decoder LLM + LoRA on all linear layers (4-bit QLoRA on CUDA), generative tagging"
    seed_controls = ("the LoRA matrices' initialisation, dropout and the order of batches "
                     "(transformers `set_seed`, the Trainer's seeds); decoding is greedy")
    requires = ("torch", "transformers", "accelerate", "peft")
    optional = ("bitsandbytes", "gguf")
    Config = LLMConfig
    Counters = GenerationCounters
    PROFILES = {
        "full": {"model": "NousResearch/Llama-2-7b-hf", "lora_r": 256, "lora_alpha": 256,
                 "training_forward": "answer"},
        # 135M parameters on CPU: a smaller adapter, no gradient checkpointing
        # (it trades compute for memory, and memory is not the limit here), and
        # per-epoch validation on subsets, since every forward pass is costly.
        # Generation: 128 rows decoding, prompts 16 rows a pass, the best of the batch
        # sizes compare_generation.py tried on a 2-core CPU (its figures: README, commits).
        "offline": {"model": "smollm2-135m-instruct", "lora_r": 32, "lora_alpha": 64,
                    "batch_size": 8, "gradient_accumulation_steps": 1,
                    "eval_batch_size": 128, "prefill_batch_size": 16,
                    "learning_rate": 5e-4, "gradient_checkpointing": False,
                    "eval_loss_limit": 200, "eval_generate_limit": 100,
                    "training_forward": "shared-prefix"},
    }

    def __init__(self, scheme, config: LLMConfig):
        super().__init__(scheme, config)
        self.format = get_format(config.prompt_format)
        self.decoder = with_engine(get_decoder(config.decoding), config.engine,
                                   config.tensor_parallel_size)
        if self.decoder.needs_grammar and self.format.grammar([], scheme) is None:
            raise ConfigError(f"decoding {config.decoding!r} needs a prompt format with a "
                              f"grammar; {config.prompt_format!r} has none")
        if config.training_forward not in TRAINING_FORWARDS:
            raise ConfigError(f"training_forward {config.training_forward!r}; "
                              f"known: {', '.join(TRAINING_FORWARDS)}")
        self.quantized = llm_lora.use_4bit(config.quantization)
        llm_lora.check_quantized_decoding(config.quantized_decoding)
        self.weights: llm_lora.AdapterWeights | None = None
        self.tokenizer = None
        self.stats = GenerationCounters()
        self._raw: list[dict] | None = None   # answers of the last predict(), for raw_outputs()
        self.flops_by_phase = {"prefill": 0.0, "decode": 0.0}   # model work of every generate()

    @classmethod
    def config_requirements(cls, config: LLMConfig) -> tuple[str, ...]:
        return engine_requirements(config.engine)

    @property
    def model(self):
        return self.weights.model if self.weights else None

    # ------------------------------------------------------------ prompts
    def messages(self, tokens: Sequence[str]) -> list[dict]:
        """The chat turns that ask for `tokens`' entities (a subclass may put
        worked examples before the last one)."""
        return [{"role": "system", "content": SYSTEM_MESSAGE},
                {"role": "user", "content": self.format.instruction(tokens, self.scheme)}]

    def _prompt_text(self, tokens: Sequence[str]) -> str:
        messages = self.messages(tokens)
        if self.tokenizer.chat_template:
            return self.tokenizer.apply_chat_template(messages, add_generation_prompt=True,
                                                      tokenize=False)
        # Llama-2 style for base models without a chat template; the first <s> comes
        # from the tokenizer, and a worked example's answer closes its turn.
        turns = {"user": "[INST] {} [/INST] \n", "assistant": "{}</s><s>"}
        return "".join(turns[m["role"]].format(m["content"]) for m in messages if m["role"] in turns)

    def prompt_ids(self, tokens: Sequence[str]) -> list[int]:
        text = self._prompt_text(tokens)
        # A chat template writes its own BOS where it wants one.
        return self.tokenizer(text, add_special_tokens=not self.tokenizer.chat_template)["input_ids"]

    def _example(self, tokens, tags) -> dict:
        prompt = self.prompt_ids(tokens)
        answer = self.format.answer(tokens, tags)
        answer_ids = self.tokenizer(answer, add_special_tokens=False)["input_ids"] + [
            self.tokenizer.eos_token_id]
        ids = (prompt + answer_ids)[: self.config.max_length]
        labels = ([IGNORE_INDEX] * len(prompt) + answer_ids)[: self.config.max_length]
        return {"input_ids": ids, "attention_mask": [1] * len(ids), "labels": labels}

    def probe_prompts(self) -> list[list[int]]:
        """Prompts of two unrelated sentences: what they share with every prompt
        is the template head."""
        return [self.prompt_ids(["Zq"]), self.prompt_ids(["1", "."])]

    def shared_prefix_len(self) -> int:
        """Ids every training prompt starts with, for the shared-prefix forward
        (0 when not asked for, or when gradient checkpointing drops the cache)."""
        if self.config.training_forward != "shared-prefix":
            return 0
        if self.config.gradient_checkpointing:
            self.notes.append("training forward: gradient checkpointing keeps no cache, "
                              "so the template head is not shared")
            return 0
        return len(os.path.commonprefix(self.probe_prompts()))

    def max_new_tokens(self, tokens: Sequence[str]) -> int:
        """No valid answer is longer than the format's longest answer."""
        longest = self.format.longest_answer(tokens, self.scheme)
        return len(self.tokenizer(longest, add_special_tokens=False)["input_ids"]) + 1

    # ------------------------------------------------------------ train
    def _datasets(self, train, validation):
        import datasets

        cfg = self.config
        n_eval = len(validation) if cfg.eval_loss_limit is None else cfg.eval_loss_limit
        if n_eval < len(validation) or cfg.eval_generate_limit < len(validation):
            self.notes.append(
                f"per-epoch validation: eval loss on the first {min(n_eval, len(validation))} and "
                f"generation P/R/F1 on the first {min(cfg.eval_generate_limit, len(validation))} "
                f"of {len(validation)} validation sentences")
        pairs = zip(train["tokens"], train["tags"])
        eval_pairs = zip(list(validation["tokens"])[:n_eval], list(validation["tags"])[:n_eval])
        return (datasets.Dataset.from_list([self._example(t, g) for t, g in pairs]),
                datasets.Dataset.from_list([self._example(t, g) for t, g in eval_pairs]))

    def _validation_scorer(self, validation):
        """Generation P/R/F1 on a validation subset at each epoch's end; the
        adapter is unmerged again afterwards, so training goes on.  Under
        torchrun each process decodes its share and every one scores the whole."""
        n = self.config.eval_generate_limit
        tokens, tags = list(validation["tokens"])[:n], list(validation["tags"])[:n]

        def score_on_validation(state) -> dict:
            mine = self._tags(distributed.shard(tokens), keep_merged=False)
            s = score(tags, distributed.gather_shards(mine, len(tokens)))
            self.model.train()
            return {f"gen_{k}": s[k] for k in ("precision", "recall", "f1", "accuracy")}

        return score_on_validation

    def train(self, train, validation, workdir: Path | None = None) -> list[dict]:
        import torch
        from transformers import DataCollatorForSeq2Seq, set_seed

        cfg = self.config
        set_seed(cfg.seed)
        base, self.tokenizer = llm_lora.load_base(resolve_llm(cfg.model), self.quantized, self.notes)
        model = llm_lora.add_adapter(base, cfg, self.quantized, self.notes)
        cheaper_dropout(model, cfg.training_forward, self.notes)
        self.weights = llm_lora.AdapterWeights(model, self.quantized, cfg.quantized_decoding)
        workdir = checkpoint_dir(workdir, self.name)
        train_ds, eval_ds = self._datasets(train, validation)
        # Eval loss only: the Trainer would otherwise keep every eval batch's logits.
        args = epoch_training_arguments(
            workdir, cfg, sampling="group_by_length",
            per_device_eval_batch_size=cfg.batch_size, prediction_loss_only=True,
            gradient_accumulation_steps=cfg.gradient_accumulation_steps,
            warmup_steps=cfg.warmup_steps, lr_scheduler_type=cfg.lr_scheduler_type,
            bf16=torch.cuda.is_available() and self.quantized, remove_unused_columns=False)
        self.tokenizer.padding_side = "right"   # rows share their head only when padded right
        trainer = loss_trainer(cfg.training_forward, self.shared_prefix_len())(
            model=model, args=args, train_dataset=train_ds, eval_dataset=eval_ds,
            data_collator=DataCollatorForSeq2Seq(self.tokenizer, padding=True,
                                                 label_pad_token_id=IGNORE_INDEX),
            callbacks=[epoch_timer(extra=self._validation_scorer(validation))])
        train_resuming(trainer, workdir, self.notes, desc=f"{self.name} training steps")
        self.reset_stats()  # validation decoding is not the test's
        return history_from_log(trainer.state.log_history, score_prefix="gen_")

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
        self.stats = GenerationCounters()

    def raw_outputs(self) -> list[dict] | None:
        return self._raw

    def flops_done(self) -> float:
        return sum(self.flops_by_phase.values())

    # ------------------------------------------------------------ persist
    def save(self, path: Path) -> None:
        super().save(path)
        self.model.save_pretrained(Path(path) / "adapter")   # the LoRA adapter only
        self.tokenizer.save_pretrained(Path(path) / "adapter")

    def _load_weights(self, path: Path) -> None:
        base, self.tokenizer = llm_lora.load_base(resolve_llm(self.config.model), self.quantized,
                                                  self.notes)
        model = llm_lora.load_adapter(base, Path(path) / "adapter")
        self.weights = llm_lora.AdapterWeights(model, self.quantized,
                                               self.config.quantized_decoding)

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
