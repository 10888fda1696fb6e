"""LLM tagger training sentences/s under each training forward, in one run.

Each forward (`systems/llm/training.py`) trains the offline profile's tagger
for one epoch on the same real training sentences, through the harness's own
`train()` (the Trainer, length-grouped batches, the profile's hyperparameters).
The runs alternate (full, answer, shared-prefix, full, ...) so drift in the
machine's speed hits all alike; each forward's best epoch counts.  The epoch
timer runs from epoch start to epoch end, so per-epoch validation and
checkpoint saving are not counted.

    python benchmarks/compare_llm_training.py [--sentences 128] [--repeats 2]
"""
from __future__ import annotations

import argparse
import json
import tempfile

from _common import real_train_and_validation


def epoch_seconds(forward: str, train, val, scheme) -> float:
    from systems.llm.tagger import LLMTagger

    cfg = LLMTagger.make_config("offline", epochs=1, training_forward=forward,
                                eval_loss_limit=8, eval_generate_limit=1)
    with tempfile.TemporaryDirectory() as tmp:
        history = LLMTagger(scheme, cfg).train(train, val, workdir=tmp)
    return history[0]["train_seconds"]


def main() -> None:
    ap = argparse.ArgumentParser()
    ap.add_argument("--sentences", type=int, default=128)
    ap.add_argument("--repeats", type=int, default=2)
    ap.add_argument("--forwards", default="full,answer,shared-prefix")
    ap.add_argument("--scheme", default="B")
    args = ap.parse_args()

    import torch

    from harness.measure.provenance import git_commit, hardware

    scheme, train, val = real_train_and_validation(args.sentences, 8, args.scheme)
    forwards = args.forwards.split(",")
    best = {f: float("inf") for f in forwards}
    for _ in range(args.repeats):
        for forward in forwards:
            best[forward] = min(best[forward], epoch_seconds(forward, train, val, scheme))
    out = {"sentences": args.sentences, "repeats": args.repeats, "scheme": args.scheme,
           "hardware": hardware(), "threads": torch.get_num_threads(), "commit": git_commit(),
           "train_sentences_per_s": {f: args.sentences / s for f, s in best.items()},
           "speedup_over_first": {f: best[forwards[0]] / s for f, s in best.items()}}
    print(json.dumps(out, indent=2))


if __name__ == "__main__":
    main()
