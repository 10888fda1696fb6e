"""Training seconds per epoch: the encoder system against a plain Trainer run.

The plain run is what a user would write from transformers' token-classification
example: tokenize with `is_split_into_words`, label the first sub-token of each
word and -100 the rest, `DataCollatorForTokenClassification`, random batches.
It shares nothing with the harness but the model folder, the data and the
hyperparameters (batch size, learning rate, weight decay, warm-up, epochs, seed).
Both sides are timed by the same callback: epoch start to epoch end, so neither
validation nor checkpoint saving is counted.

    python benchmarks/compare_training.py [--sentences 1000] [--epochs 1]
"""
from __future__ import annotations

import argparse
import json
import tempfile

from _common import real_train_and_validation


def plain_trainer_seconds(train, scheme, cfg, workdir: str) -> list[float]:
    """Seconds per epoch of a plain Trainer fine-tuning run (no length grouping)."""
    import datasets
    import torch
    from transformers import (AutoModelForTokenClassification, AutoTokenizer,
                              DataCollatorForTokenClassification, Trainer, TrainingArguments,
                              set_seed)

    from harness.core.sources import resolve_encoder
    from systems.common.trainer_utils import epoch_timer

    set_seed(cfg.seed)
    source = resolve_encoder(cfg.model)
    tokenizer = AutoTokenizer.from_pretrained(source)
    model = AutoModelForTokenClassification.from_pretrained(
        source, num_labels=len(scheme.labels), id2label=scheme.id2label,
        label2id=scheme.label2id)

    def encode(batch):
        enc = tokenizer(batch["tokens"], is_split_into_words=True, truncation=True,
                        max_length=cfg.max_length)
        labels = []
        for i, tags in enumerate(batch["tags"]):
            previous, row = None, []
            for word in enc.word_ids(i):
                row.append(-100 if word is None or word == previous
                           else scheme.label2id[tags[word]])
                previous = word
            labels.append(row)
        enc["labels"] = labels
        return enc

    ds = datasets.Dataset.from_dict({"tokens": train["tokens"], "tags": train["tags"]})
    ds = ds.map(encode, batched=True, remove_columns=["tokens", "tags"])
    args = TrainingArguments(
        output_dir=workdir, num_train_epochs=cfg.epochs,
        per_device_train_batch_size=cfg.batch_size, learning_rate=cfg.learning_rate,
        weight_decay=cfg.weight_decay, warmup_steps=cfg.warmup_ratio, seed=cfg.seed,
        data_seed=cfg.seed, eval_strategy="no", save_strategy="no", report_to=[],
        use_cpu=not torch.cuda.is_available(), dataloader_num_workers=0, disable_tqdm=True)
    trainer = Trainer(model=model, args=args, train_dataset=ds,
                      data_collator=DataCollatorForTokenClassification(tokenizer),
                      processing_class=tokenizer, callbacks=[epoch_timer()])
    trainer.train()
    return [e["train_seconds"] for e in trainer.state.log_history if "train_seconds" in e]


def main() -> None:
    ap = argparse.ArgumentParser()
    ap.add_argument("--sentences", type=int, default=1000)
    ap.add_argument("--epochs", type=int, default=1)
    ap.add_argument("--scheme", default="B")
    args = ap.parse_args()

    from systems.encoder.tagger import EncoderTagger

    scheme, train, val = real_train_and_validation(args.sentences, 100, args.scheme)
    cfg = EncoderTagger.make_config("offline", epochs=args.epochs)
    out = {"sentences": args.sentences, "epochs": args.epochs, "batch_size": cfg.batch_size,
           "model": cfg.model}

    with tempfile.TemporaryDirectory() as tmp:
        plain = plain_trainer_seconds(train, scheme, cfg, tmp)
    with tempfile.TemporaryDirectory() as tmp:
        history = EncoderTagger(scheme, cfg).train(train, val, workdir=tmp)
    ours = [h["train_seconds"] for h in history]
    for label, secs in (("plain_trainer", plain), ("harness", ours)):
        out[f"{label}_seconds_per_epoch"] = sum(secs) / len(secs)
        out[f"{label}_train_sentences_per_s"] = args.sentences / out[f"{label}_seconds_per_epoch"]
    out["ratio_plain_over_harness"] = (out["plain_trainer_seconds_per_epoch"]
                                       / out["harness_seconds_per_epoch"])
    print(json.dumps(out, indent=2))


if __name__ == "__main__":
    main()
