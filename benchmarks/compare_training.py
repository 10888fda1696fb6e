"""Training seconds per epoch: the encoder system (length-grouped batches)
against the same Trainer set-up with plain random batches.

    python benchmarks/compare_training.py [--sentences 1000] [--epochs 1]
"""
from __future__ import annotations

import argparse
import json
import tempfile

from _common import ROOT  # noqa: F401  (puts the repository on sys.path)


def main() -> None:
    ap = argparse.ArgumentParser()
    ap.add_argument("--sentences", type=int, default=1000)
    ap.add_argument("--epochs", type=int, default=1)
    ap.add_argument("--scheme", default="B")
    args = ap.parse_args()

    from benchmarks.definitions import SHARED_SUBSET
    from harness.data import load_local, subsample_indices, to_scheme
    from harness.labels import get_scheme
    from systems.encoder import EncoderTagger

    data = load_local(SHARED_SUBSET)
    scheme = get_scheme(args.scheme)
    train = to_scheme(data.splits["train"], scheme,
                      subsample_indices(len(data.splits["train"]), args.sentences, 0))
    val = to_scheme(data.splits["validation"], scheme, list(range(100)))
    out = {"sentences": args.sentences, "epochs": args.epochs}
    for label, grouped in (("plain_trainer", False), ("harness", True)):
        cfg = EncoderTagger.make_config("offline", epochs=args.epochs, group_by_length=grouped)
        system = EncoderTagger(scheme, cfg)
        with tempfile.TemporaryDirectory() as tmp:
            history = system.train(train, val, workdir=tmp)
        secs = [h["train_seconds"] for h in history]
        out[f"{label}_seconds_per_epoch"] = sum(secs) / len(secs)
        out[f"{label}_train_sentences_per_s"] = args.sentences / out[f"{label}_seconds_per_epoch"]
    out["ratio_plain_over_harness"] = out["plain_trainer_seconds_per_epoch"] / out["harness_seconds_per_epoch"]
    print(json.dumps(out, indent=2))


if __name__ == "__main__":
    main()
