"""A decoder LLM fine-tuned with (Q)LoRA to write a sentence's entities.

The generative base (`generative`) prompts, decodes and parses; this adds the
training: the prompter's gold answer is the target, with the loss on the answer
tokens only, and `lora` loads the base (4-bit on CUDA) and trains the adapter
on every linear layer.
"""
from __future__ import annotations

import dataclasses
import os
from pathlib import Path

from harness.core import distributed
from harness.core.errors import ConfigError
from harness.core.registry import register_system
from harness.core.sources import resolve_llm
from harness.core.system import unhashed_default
from harness.evaluation.metrics import score

from systems.common.alignment import IGNORE_INDEX
from systems.common.trainer_utils import (checkpoint_dir, epoch_timer, epoch_training_arguments,
                                          history_from_log, train_resuming)
from systems.llm import lora as llm_lora
from systems.llm.generative import GenerationConfig, GenerativeTagger
from systems.llm.training import TRAINING_FORWARDS, cheaper_dropout, loss_trainer


@dataclasses.dataclass
class LLMConfig(GenerationConfig):
    """Prompting and decoding, and the LoRA training."""

    epochs: int = 2
    gradient_accumulation_steps: int = 4
    learning_rate: float = 2e-4
    lora_r: int = 256
    lora_alpha: int = 256
    lora_dropout: float = 0.05
    gradient_checkpointing: bool = True
    max_length: int = 512              # prompt + answer tokens in training
    eval_generate_limit: int = 200     # validation sentences decoded per epoch for P/R/F1
    eval_loss_limit: int | None = None # validation sentences for the per-epoch eval loss (None: all)
    warmup_steps: float = unhashed_default(0.03)   # below 1: a share of the training steps
    lr_scheduler_type: str = unhashed_default("cosine")
    # "full", "answer" or "shared-prefix" (training): where the training loss's compute goes
    training_forward: str = unhashed_default("full")


@register_system("llm")
class LLMTagger(GenerativeTagger):
    description = "decoder LLM + LoRA on all linear layers (4-bit QLoRA on CUDA), generative tagging"
    seed_controls = ("the LoRA matrices' initialisation, dropout and the order of batches "
                     "(transformers `set_seed`, the Trainer's seeds); decoding is greedy")
    Config = LLMConfig
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
        if config.training_forward not in TRAINING_FORWARDS:
            raise ConfigError(f"training_forward {config.training_forward!r}; "
                              f"known: {', '.join(TRAINING_FORWARDS)}")

    # ------------------------------------------------------------ train
    def _example(self, tokens, tags) -> dict:
        prompt, answer = self.prompt_ids(tokens), self.prompter.answer_ids(tokens, tags)
        ids = (prompt + answer)[: self.config.max_length]
        labels = ([IGNORE_INDEX] * len(prompt) + answer)[: self.config.max_length]
        return {"input_ids": ids, "attention_mask": [1] * len(ids), "labels": labels}

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
