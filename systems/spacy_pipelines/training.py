"""Training the spaCy pipeline through spaCy's own loop (`spacy.training.loop.train`)
and config system: the harness gives it in-memory corpora and a logger, and
reads one history record per epoch from that logger.

The batch sizes compound afresh each epoch, so every epoch has as many steps.
spaCy evaluates when ``step % eval_frequency == 0``, so with eval_frequency set
to the steps of one epoch its evaluations come after the first batch of each
epoch.  The run therefore goes on for that one batch past the last epoch, and
evaluation k is the k-th epoch's (plus one small batch); the evaluation after
the very first batch is dropped."""
from __future__ import annotations

import time
from pathlib import Path

from harness.core.progress import progress

CORPORA: dict[str, list] = {}   # key -> Examples, for the registered reader
LOGS: dict[str, list[dict]] = {}


def register() -> None:
    """The reader and logger that the training config names (idempotent)."""
    from spacy.util import registry

    if "ner_harness.examples.v1" in registry.readers.get_all():
        return

    @registry.readers("ner_harness.examples.v1")
    def examples_reader(key: str):
        def read(nlp):
            LOGS[key].append({"read_at": time.perf_counter()})
            return CORPORA[key]
        return read

    # spaCy's own batchers carry their size schedule on from one epoch to the next, so epochs
    # differ in steps and no eval_frequency falls on their ends; this one restarts it.
    @registry.batchers("ner_harness.compounding_per_epoch.v1")
    def compounding_per_epoch(start: int, stop: int, compound: float):
        # A bar on a terminal, as the hand-written loop drew (spaCy's own output is silenced).
        return lambda items: progress(epoch_batches(items, start, stop, compound),
                                      desc="spacy epoch")

    @registry.loggers("ner_harness.epoch_logger.v1")
    def epoch_logger(key: str):
        def setup(nlp, stdout, stderr):
            def log_step(info):
                if info is not None:   # an evaluation step
                    LOGS[key][-1].update(logged_at=time.perf_counter(), step=info["step"],
                                         scores=dict(info["other_scores"]),
                                         loss=float(info["losses"].get("ner", 0.0)))
            return log_step, lambda: None
        return setup


def epoch_batches(items, start: int, stop: int, compound: float = 1.001):
    """One epoch's batches: sizes compounding from start to stop, afresh each epoch."""
    from spacy.util import compounding, minibatch

    return minibatch(items, size=compounding(start, stop, compound))


def steps_per_epoch(n: int, start: int, stop: int) -> int:
    return sum(1 for _ in epoch_batches(range(n), start, stop))


def loop_config(key: str, cfg, n_train: int) -> dict:
    """The [corpora] and [training] sections for spaCy's loop."""
    spe = steps_per_epoch(n_train, cfg.train_batch_start, cfg.train_batch_stop)
    reader = {"@readers": "ner_harness.examples.v1"}
    return {
        "corpora": {"train": reader | {"key": f"{key}/train"},
                    "dev": reader | {"key": f"{key}/dev"}},
        "training": {
            "seed": cfg.seed, "dropout": cfg.dropout, "patience": 0,
            "max_epochs": cfg.epochs + 1, "max_steps": cfg.epochs * spe, "eval_frequency": spe,
            "train_corpus": "corpora.train", "dev_corpus": "corpora.dev",
            "batcher": {"@batchers": "ner_harness.compounding_per_epoch.v1",
                        "start": cfg.train_batch_start, "stop": cfg.train_batch_stop,
                        "compound": 1.001},
            "logger": {"@loggers": "ner_harness.epoch_logger.v1", "key": f"{key}/dev"},
            "score_weights": {"ents_f": 1.0, "ents_p": 0.0, "ents_r": 0.0, "ents_per_type": None},
        },
    }


def epoch_history(log: list[dict], n_train: int) -> list[dict]:
    """One record per epoch from the logger's evaluations (the first, after
    one batch, dropped): spaCy's entity scores, the summed ner loss per
    training sentence, training and validation seconds."""
    from harness.core.system import epoch_record

    history, last = [], log[0].get("logged_at")
    for epoch, entry in enumerate(log[1:], start=1):
        s = entry["scores"]
        history.append(epoch_record(
            epoch, train_loss=entry["loss"] / max(1, n_train), precision=s.get("ents_p"),
            recall=s.get("ents_r"), f1=s.get("ents_f"),
            train_seconds=entry["read_at"] - last,
            eval_seconds=entry["logged_at"] - entry["read_at"]))
        last = entry["logged_at"]
    return history


def train_with_spacy(nlp, train_examples: list, dev_examples: list, workdir: Path,
                     key: str) -> tuple[object, list[dict]]:
    """Run spaCy's loop on an initialised pipeline; (the best pipeline, its
    per-epoch history).  The best is spaCy's model-best: the highest ents_f,
    with the optimizer's averaged weights."""
    import io

    import spacy
    from spacy.training.loop import train

    CORPORA[f"{key}/train"], CORPORA[f"{key}/dev"] = train_examples, dev_examples
    LOGS[f"{key}/dev"], LOGS[f"{key}/train"] = [], []
    try:
        Path(workdir).mkdir(parents=True, exist_ok=True)
        train(nlp, Path(workdir), stdout=io.StringIO(), stderr=io.StringIO())
        best = spacy.load(Path(workdir) / "model-best")
        return best, epoch_history(LOGS[f"{key}/dev"], len(train_examples))
    finally:
        for part in ("train", "dev"):
            CORPORA.pop(f"{key}/{part}", None)
            LOGS.pop(f"{key}/{part}", None)
