"""What the Trainer-based systems share: their TrainingArguments, per-epoch
timing, resume from the last checkpoint, and folding the Trainer's log into
one record per epoch."""
from __future__ import annotations

import math
import tempfile
import time
from pathlib import Path

from harness.core.progress import ProgressLog, progress_enabled
from harness.core.system import epoch_record, has_checkpoint

SCORE_KEYS = ("precision", "recall", "f1", "accuracy")


def epoch_timer(extra=None):
    """A callback that logs training seconds per epoch (and `extra(state)`'s
    values) into the Trainer state, so a resumed run keeps earlier epochs."""
    from transformers import TrainerCallback

    class EpochTimer(TrainerCallback):
        def on_epoch_begin(self, args, state, control, **kw):
            self.t0 = time.perf_counter()

        def on_epoch_end(self, args, state, control, **kw):
            entry = {"epoch": round(state.epoch), "train_seconds": time.perf_counter() - self.t0}
            if extra is not None:
                t0 = time.perf_counter()
                entry.update(extra(state))
                entry["extra_seconds"] = time.perf_counter() - t0
            state.log_history.append(entry)

    return EpochTimer()


def step_log(desc: str):
    """A callback writing a line at each tenth of the training steps (for logs,
    where the Trainer's bar is off)."""
    from transformers import TrainerCallback

    class StepLog(TrainerCallback):
        def on_train_begin(self, args, state, control, **kw):
            self.log = ProgressLog(desc, state.max_steps, first=state.global_step)

        def on_step_end(self, args, state, control, **kw):
            self.log.update(state.global_step)

    return StepLog()


def train_resuming(trainer, workdir: Path, notes: list[str], desc: str = "training steps") -> None:
    """Train, resuming from the last checkpoint in `workdir` if there is one."""
    from transformers import PrinterCallback

    # The per-epoch table is the record; the raw log dicts are noise on stdout.
    trainer.remove_callback(PrinterCallback)
    if not progress_enabled():
        trainer.add_callback(step_log(desc))
    resume = has_checkpoint(workdir)
    if resume:
        notes.append(f"training resumed from the last checkpoint in {workdir}")
    trainer.train(resume_from_checkpoint=resume or None)


def history_from_log(log_history: list[dict], score_prefix: str = "eval_") -> list[dict]:
    """One record per epoch: train loss, eval loss, training seconds and the
    validation scores logged under `score_prefix`."""
    by_epoch: dict[int, dict] = {}
    for entry in log_history:
        if "epoch" not in entry:
            continue
        rec = by_epoch.setdefault(max(1, math.ceil(entry["epoch"] - 1e-6)), {})
        if "loss" in entry:
            rec["train_loss"] = entry["loss"]
        if "eval_loss" in entry:
            rec["eval_loss"] = entry["eval_loss"]
        if "train_seconds" in entry:
            rec["train_seconds"] = entry["train_seconds"]
        # Validation: the Trainer's evaluate (eval_runtime) and any scorer run at the epoch's end.
        for key in ("eval_runtime", "extra_seconds"):
            if key in entry:
                rec["eval_seconds"] = rec.get("eval_seconds", 0.0) + entry[key]
        for key in SCORE_KEYS:
            if f"{score_prefix}{key}" in entry:
                rec[key] = entry[f"{score_prefix}{key}"]
    return [epoch_record(e, **v) for e, v in sorted(by_epoch.items())]


def checkpoint_dir(workdir: Path | None, system: str) -> Path:
    """The run's checkpoint folder; a fresh temporary one when training
    outside a run (never a folder relative to where the command was started)."""
    return Path(workdir) if workdir else Path(tempfile.mkdtemp(prefix=f"ner-harness-{system}-"))


def epoch_training_arguments(workdir: Path, cfg, *, sampling: str, arguments_class=None,
                             **specific):
    """TrainingArguments for a system that evaluates, logs and checkpoints once
    an epoch; `specific` holds what differs between systems, and
    `arguments_class` a library's own subclass of TrainingArguments."""
    import torch
    from transformers import TrainingArguments

    return (arguments_class or TrainingArguments)(
        output_dir=str(workdir),
        num_train_epochs=cfg.epochs,
        per_device_train_batch_size=cfg.batch_size,
        learning_rate=cfg.learning_rate,
        eval_strategy="epoch",
        save_strategy="epoch",
        logging_strategy="epoch",
        train_sampling_strategy=sampling,
        seed=cfg.seed,
        data_seed=cfg.seed,
        report_to=[],
        use_cpu=not torch.cuda.is_available(),
        disable_tqdm=not progress_enabled(),
        **specific,
    )
