"""A decoder LLM fine-tuned with (Q)LoRA to write a sentence's entities.

Training pairs are instruction prompts (see `llm_prompts`) with the loss on
the answer tokens only.  On CUDA the base model is loaded in 4-bit nf4 with
double quantisation and bf16 compute (QLoRA); without CUDA it falls back to
plain LoRA on an fp32 base and the report says so.  Prediction is batched
greedy decoding with the KV cache and left padding, sentences grouped by
length, a max-new-tokens bound derived from each sentence, and rows that
leave the batch as soon as their answer ends.
"""
from __future__ import annotations

import contextlib
import dataclasses
from pathlib import Path
from typing import Sequence

from harness.metrics import score
from harness.models import resolve_llm
from harness.progress import progress, progress_enabled

from . import llm_prompts
from .alignment import IGNORE_INDEX
from .base import ModelNotFoundError, NERSystem, SystemConfig, register_system
from .trainer_utils import epoch_timer, history_from_log, train_resuming

LORA_TARGETS = ["q_proj", "k_proj", "v_proj", "o_proj", "gate_proj", "up_proj", "down_proj"]
SYSTEM_MESSAGE = "You are a named-entity tagger."


@dataclasses.dataclass
class LLMConfig(SystemConfig):
    model: str = "NousResearch/Llama-2-7b-hf"
    prompt_format: str = "wordtag"
    epochs: int = 2
    batch_size: int = 4
    gradient_accumulation_steps: int = 4
    eval_batch_size: int = 16          # generation batch
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


@register_system("llm")
class LLMTagger(NERSystem):
    description = "decoder LLM + LoRA on all linear layers (4-bit QLoRA on CUDA), generative tagging"
    requires = ("torch", "transformers", "accelerate", "peft")
    Config = LLMConfig
    PROFILES = {
        "full": {"model": "NousResearch/Llama-2-7b-hf", "lora_r": 256, "lora_alpha": 256},
        # 135M parameters on CPU: a smaller adapter, no gradient checkpointing
        # (it trades compute for memory, and memory is not the limit here), and
        # per-epoch validation on subsets, since every forward pass is costly.
        "offline": {"model": "smollm2-135m-instruct", "lora_r": 32, "lora_alpha": 64,
                    "batch_size": 8, "gradient_accumulation_steps": 1,
                    "learning_rate": 5e-4, "gradient_checkpointing": False,
                    "eval_loss_limit": 200, "eval_generate_limit": 100},
    }

    def __init__(self, scheme, config: LLMConfig):
        super().__init__(scheme, config)
        if config.prompt_format not in llm_prompts.FORMATS:
            raise ValueError(f"prompt_format {config.prompt_format!r}; known: {llm_prompts.FORMATS}")
        self.model = None
        self.tokenizer = None
        self._training = False   # inside train(): the adapter must stay trainable
        self._merged = False     # LoRA folded into the base weights (see _inference_weights)
        self.stats = {"malformed_items": 0, "hallucinated_entities": 0,
                      "sentences_with_problems": 0, "generated_tokens": 0, "sentences": 0}
        self._raw: list[dict] | None = None   # answers of the last predict(), for raw_outputs()

    # ------------------------------------------------------------ loading
    def _quantize(self) -> bool:
        import torch

        q = self.config.quantization
        if q == "nf4":
            return True
        if q == "none":
            return False
        if q != "auto":
            raise ValueError(f"quantization {q!r}; known: auto, nf4, none")
        return torch.cuda.is_available()

    def _load_base(self, source: str):
        import torch
        from transformers import AutoModelForCausalLM, AutoTokenizer

        kwargs = {}
        if self._quantize():
            from transformers import BitsAndBytesConfig

            compute = torch.bfloat16 if torch.cuda.is_available() else torch.float32
            kwargs["quantization_config"] = BitsAndBytesConfig(
                load_in_4bit=True, bnb_4bit_quant_type="nf4",
                bnb_4bit_use_double_quant=True, bnb_4bit_compute_dtype=compute)
            if torch.cuda.is_available():
                kwargs["device_map"] = {"": 0}
            self.notes.append(f"base model in 4-bit nf4 (double quantisation, "
                              f"{str(compute).removeprefix('torch.')} compute): QLoRA")
        else:
            kwargs["dtype"] = torch.float32
            self.notes.append("no CUDA: plain LoRA on an fp32 base model (no 4-bit quantisation)"
                              if not torch.cuda.is_available() else "LoRA on an fp32 base model")
        try:
            tokenizer = AutoTokenizer.from_pretrained(source)
            model = AutoModelForCausalLM.from_pretrained(source, **kwargs)
        except OSError as err:
            raise ModelNotFoundError(
                f"model {source!r} could not be loaded (not a local folder, and the hub "
                f"is unreachable or has no such model): {str(err).splitlines()[0]}") from None
        if tokenizer.pad_token_id is None:
            tokenizer.pad_token = tokenizer.eos_token
        return model, tokenizer

    def _device(self):
        return next(self.model.parameters()).device

    # ------------------------------------------------------------ prompts
    def _prompt_text(self, tokens: Sequence[str]) -> str:
        user = llm_prompts.instruction(self.config.prompt_format, tokens, self.scheme)
        tok = self.tokenizer
        if tok.chat_template:
            return tok.apply_chat_template(
                [{"role": "system", "content": SYSTEM_MESSAGE}, {"role": "user", "content": user}],
                add_generation_prompt=True, tokenize=False)
        # Llama-2 style for base models without a chat template; <s> comes from the tokenizer.
        return f"[INST] {user} [/INST] \n"

    def _prompt_ids(self, tokens: Sequence[str]) -> list[int]:
        text = self._prompt_text(tokens)
        # A chat template writes its own BOS where it wants one.
        return self.tokenizer(text, add_special_tokens=not self.tokenizer.chat_template)["input_ids"]

    def _example(self, tokens, tags) -> dict:
        prompt = self._prompt_ids(tokens)
        ans = llm_prompts.answer(self.config.prompt_format, tokens, tags)
        answer_ids = self.tokenizer(ans, add_special_tokens=False)["input_ids"] + [self.tokenizer.eos_token_id]
        ids = (prompt + answer_ids)[: self.config.max_length]
        labels = ([IGNORE_INDEX] * len(prompt) + answer_ids)[: self.config.max_length]
        return {"input_ids": ids, "attention_mask": [1] * len(ids), "labels": labels}

    # ------------------------------------------------------------ train
    def train(self, train, validation, workdir: Path | None = None) -> list[dict]:
        import datasets
        import torch
        from peft import LoraConfig, get_peft_model, prepare_model_for_kbit_training
        from transformers import (DataCollatorForSeq2Seq, Trainer, TrainingArguments,
                                  set_seed)

        cfg = self.config
        set_seed(cfg.seed)
        model, self.tokenizer = self._load_base(resolve_llm(cfg.model))
        if self._quantize():
            model = prepare_model_for_kbit_training(
                model, use_gradient_checkpointing=cfg.gradient_checkpointing)
        elif cfg.gradient_checkpointing:
            model.gradient_checkpointing_enable()
            model.enable_input_require_grads()
        model = get_peft_model(model, LoraConfig(
            r=cfg.lora_r, lora_alpha=cfg.lora_alpha, lora_dropout=cfg.lora_dropout,
            target_modules=LORA_TARGETS, bias="none", task_type="CAUSAL_LM"))
        trainable, total = model.get_nb_trainable_parameters()
        self.notes.append(f"LoRA r={cfg.lora_r} alpha={cfg.lora_alpha} on {', '.join(LORA_TARGETS)}: "
                          f"{trainable:,} trainable of {total:,} parameters")
        self.model, self._merged = model, False
        workdir = Path(workdir or "runs/_scratch/llm")
        train_ds = datasets.Dataset.from_list(
            [self._example(t, g) for t, g in zip(train["tokens"], train["tags"])])
        n_eval = len(validation) if cfg.eval_loss_limit is None else cfg.eval_loss_limit
        eval_ds = datasets.Dataset.from_list(
            [self._example(t, g) for t, g in
             zip(list(validation["tokens"])[:n_eval], list(validation["tags"])[:n_eval])])
        if n_eval < len(validation) or cfg.eval_generate_limit < len(validation):
            self.notes.append(
                f"per-epoch validation: eval loss on the first {min(n_eval, len(validation))} and "
                f"generation P/R/F1 on the first {min(cfg.eval_generate_limit, len(validation))} "
                f"of {len(validation)} validation sentences")
        val_tokens = list(validation["tokens"])[: cfg.eval_generate_limit]
        val_tags = list(validation["tags"])[: cfg.eval_generate_limit]
        system = self

        def score_on_validation(state) -> dict:
            """Generation P/R/F1 on a validation subset at each epoch's end."""
            s = score(val_tags, system.predict(val_tokens))
            system.model.train()
            return {f"gen_{k}": s[k] for k in ("precision", "recall", "f1", "accuracy")}

        args = TrainingArguments(
            output_dir=str(workdir),
            num_train_epochs=cfg.epochs,
            per_device_train_batch_size=cfg.batch_size,
            per_device_eval_batch_size=cfg.batch_size,
            gradient_accumulation_steps=cfg.gradient_accumulation_steps,
            learning_rate=cfg.learning_rate,
            warmup_steps=0.03,
            lr_scheduler_type="cosine",
            eval_strategy="epoch",
            save_strategy="epoch",        # the adapter is saved every epoch
            logging_strategy="epoch",
            train_sampling_strategy="group_by_length",
            bf16=torch.cuda.is_available() and self._quantize(),
            seed=cfg.seed,
            data_seed=cfg.seed,
            report_to=[],
            use_cpu=not torch.cuda.is_available(),
            disable_tqdm=not progress_enabled(),
            remove_unused_columns=False,
        )
        trainer = Trainer(
            model=model, args=args, train_dataset=train_ds, eval_dataset=eval_ds,
            data_collator=DataCollatorForSeq2Seq(self.tokenizer, padding=True,
                                                 label_pad_token_id=IGNORE_INDEX),
            callbacks=[epoch_timer(extra=score_on_validation)],
        )
        self._training = True
        try:
            train_resuming(trainer, workdir, self.notes)
        finally:
            self._training = False
        self.reset_stats()  # validation decoding is not the test's
        return history_from_log(trainer.state.log_history, score_prefix="gen_")

    # ------------------------------------------------------------ predict
    def _max_new_tokens(self, tokens: Sequence[str]) -> int:
        """No valid answer is longer than every word tagged with the longest type."""
        longest = llm_prompts.longest_answer(self.config.prompt_format, tokens, self.scheme)
        return len(self.tokenizer(longest, add_special_tokens=False)["input_ids"]) + 1

    @contextlib.contextmanager
    def _inference_weights(self):
        """LoRA folded into a full-precision base while decoding: one matmul per
        layer instead of three.  A 4-bit base cannot take the update exactly,
        so there the adapter stays beside it.  During training (per-epoch
        validation) the adapter is unmerged again on exit so that training
        goes on; afterwards it stays merged, so one-sentence calls do not pay
        for a merge each."""
        from peft import PeftModel

        if isinstance(self.model, PeftModel) and not self._quantize() and not self._merged:
            self.model.merge_adapter()
            self._merged = True
        try:
            yield
        finally:
            if self._merged and self._training:
                self.model.unmerge_adapter()
                self._merged = False

    def generate(self, sentences: Sequence[Sequence[str]], batch_size: int | None = None,
                 show_progress: bool = False) -> list[str]:
        """Greedy answers, batched by prompt length, in input order."""
        import torch

        if self.model is None:
            raise RuntimeError("generate() before train() or load()")
        bs = batch_size or self.config.eval_batch_size
        prompts = [self._prompt_ids(s) for s in sentences]
        bounds = [self._max_new_tokens(s) for s in sentences]
        order = sorted(range(len(prompts)), key=lambda i: len(prompts[i]))
        outputs: list[str] = [""] * len(prompts)
        self.model.eval()
        batches = [order[i:i + bs] for i in range(0, len(order), bs)]
        with torch.inference_mode(), self._inference_weights():
            prefix = self._template_prefix(prompts)
            for batch in progress(batches, desc="llm generate", disable=not show_progress):
                answers = self._decode_batch([prompts[i] for i in batch],
                                             [bounds[i] for i in batch], prefix)
                for i, seq in zip(batch, answers):
                    outputs[i] = self.tokenizer.decode(seq, skip_special_tokens=True)
        return outputs

    def generate_reference(self, sentences: Sequence[Sequence[str]]) -> list[str]:
        """One sentence at a time through transformers' `generate` (greedy, KV
        cache, the same bound and end token): what the batched decoder must
        match, and the speed it is compared with."""
        import torch

        tok, out = self.tokenizer, []
        self.model.eval()
        with torch.inference_mode(), self._inference_weights():
            for s in sentences:
                ids = torch.tensor([self._prompt_ids(s)], device=self._device())
                seq = self.model.generate(
                    input_ids=ids, attention_mask=torch.ones_like(ids),
                    max_new_tokens=self._max_new_tokens(s), do_sample=False, num_beams=1,
                    use_cache=True, eos_token_id=tok.eos_token_id,
                    pad_token_id=tok.pad_token_id)[0, ids.shape[1]:].tolist()
                if tok.eos_token_id in seq:
                    seq = seq[: seq.index(tok.eos_token_id)]
                out.append(tok.decode(seq, skip_special_tokens=True))
        return out

    def _template_prefix(self, prompts: list[list[int]]):
        """(length, KV cache) of the prompt tokens every sentence shares (system
        message, instruction, type descriptions), computed once per call.

        The prefix is what the template writes before any sentence, found from
        two unrelated probe sentences, so it is the same whatever sentences or
        batch size come in and batching never changes the numbers.
        """
        import os

        probes = [self._prompt_ids(["Zq"]), self._prompt_ids(["1", "."])]
        n = len(os.path.commonprefix(probes + prompts))
        n = min(n, min((len(p) for p in prompts), default=0) - 1)  # each row keeps a token
        if n <= 0:
            return 0, None
        import torch

        ids = torch.tensor([prompts[0][:n]], device=self._device())
        out = self.model(input_ids=ids, use_cache=True)
        return n, out.past_key_values

    def _decode_batch(self, prompts: list[list[int]], bounds: list[int], prefix=(0, None)) -> list[list[int]]:
        """Greedy decoding of left-padded prompts with the KV cache.

        The shared template prefix comes from `prefix`'s cache; the rest of each
        prompt is left-padded after it (masked, with positions that skip the
        padding).  A row leaves the batch as soon as it writes the end of its
        answer or reaches its own bound, and its cache rows go with it: one
        looping answer then costs single-row steps instead of holding up the
        whole batch, and no row's answer depends on what else was in its batch.
        """
        import copy

        import torch

        tok, device = self.tokenizer, self._device()
        eos = tok.eos_token_id
        n_prefix, prefix_cache = prefix
        rests = [p[n_prefix:] for p in prompts]
        width = max(len(r) for r in rests)
        ids = torch.full((len(rests), width), tok.pad_token_id, dtype=torch.long)
        mask = torch.zeros((len(rests), n_prefix + width), dtype=torch.long)
        mask[:, :n_prefix] = 1
        for row, r in enumerate(rests):
            ids[row, width - len(r):] = torch.tensor(r)
            mask[row, n_prefix + width - len(r):] = 1
        ids, mask = ids.to(device), mask.to(device)
        positions = (mask.cumsum(-1) - 1).clamp(min=0)[:, n_prefix:]
        cache = None
        if prefix_cache is not None:
            cache = copy.deepcopy(prefix_cache)
            cache.batch_repeat_interleave(len(rests))
        out = self.model(input_ids=ids, attention_mask=mask, position_ids=positions,
                         past_key_values=cache, use_cache=True, logits_to_keep=1)
        cache, position = out.past_key_values, positions[:, -1:]
        nxt = out.logits[:, -1].argmax(-1)
        rows = list(range(len(prompts)))          # batch row -> prompt index
        answers: list[list[int]] = [[] for _ in prompts]
        while True:
            keep = []
            for j, (i, t) in enumerate(zip(rows, nxt.tolist())):
                self.stats["generated_tokens"] += 1
                if t == eos:
                    continue
                answers[i].append(t)
                if len(answers[i]) < bounds[i]:
                    keep.append(j)
            if not keep:
                return answers
            if len(keep) < len(rows):
                index = torch.tensor(keep, device=device)
                cache.batch_select_indices(index)
                mask, position, nxt = mask[index], position[index], nxt[index]
                rows = [rows[j] for j in keep]
            mask = torch.cat([mask, mask.new_ones((len(rows), 1))], dim=1)
            position = position + 1
            out = self.model(input_ids=nxt[:, None], attention_mask=mask, position_ids=position,
                             past_key_values=cache, use_cache=True)
            cache = out.past_key_values
            nxt = out.logits[:, -1].argmax(-1)

    def predict(self, sentences: Sequence[Sequence[str]], show_progress: bool = False,
                batch_size: int | None = None) -> list[list[str]]:
        answers = self.generate(sentences, batch_size=batch_size, show_progress=show_progress)
        tags, self._raw = [], []
        for s, text in zip(sentences, answers):
            parsed = llm_prompts.parse(self.config.prompt_format, text, s, self.scheme)
            self._raw.append({"answer": text, "problems": parsed.problems})
            self.stats["malformed_items"] += parsed.malformed
            self.stats["hallucinated_entities"] += parsed.hallucinated
            self.stats["sentences_with_problems"] += bool(parsed.problems)
            self.stats["sentences"] += 1
            tags.append(parsed.tags)
        return tags

    def prediction_stats(self) -> dict:
        return dict(self.stats)

    def reset_stats(self) -> None:
        self.stats = {k: 0 for k in self.stats}

    def raw_outputs(self) -> list[dict] | None:
        return self._raw

    # ------------------------------------------------------------ persist
    def save(self, path: Path) -> None:
        super().save(path)
        self.model.save_pretrained(Path(path) / "adapter")   # the LoRA adapter only
        self.tokenizer.save_pretrained(Path(path) / "adapter")

    def _load_weights(self, path: Path) -> None:
        from peft import PeftModel

        adapter = Path(path) / "adapter"
        if not adapter.is_dir():
            raise ModelNotFoundError(f"{adapter}: saved adapter not found")
        base, self.tokenizer = self._load_base(resolve_llm(self.config.model))
        self.model, self._merged = PeftModel.from_pretrained(base, str(adapter)), False

    def runtime_info(self) -> dict:
        import torch

        device = str(self._device()) if self.model is not None else "?"
        compute = "bfloat16" if torch.cuda.is_available() else "float32"
        return {"device": device, "dtype": f"nf4+{compute}" if self._quantize() else "float32",
                "threads": torch.get_num_threads(), "batch_size": self.config.eval_batch_size,
                "max_new_tokens": "longest possible answer of each sentence",
                "decoding": "greedy, KV cache, finished rows leave the batch",
                "lora": "adapter beside the 4-bit base" if self._quantize() else "merged while decoding"}
