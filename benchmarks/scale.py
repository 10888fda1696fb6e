"""The harness's own work at scale: seconds and peak memory against corpus size.

On synthetic corpora built from the local subset (`synthetic_corpus.py`) at
1x, 4x and 16x its size, and at MultiNERD English's full size, two stages are
timed, each in a fresh process so that its peak memory is its own:

- ``load``: reading and validating the JSONL files, mapping the training
  split to scheme B, and aligning it to the offline encoder's sub-tokens (the
  encoder system's own training-set path);
- ``score``: four systems' test predictions (made from gold by seeded edits;
  the harness's scoring does not care where they come from) each scored with
  seqeval, a bootstrap interval, the error taxonomy and the confusion matrix;
  and the benchmark report written from those four results (its six pairwise
  paired-bootstrap tests, Markdown, JSON and plots; the tests are also timed
  alone, as a part of it).

Peak memory is the stage process's resident high-water mark (VmHWM), the
interpreter and its imports included; the imports' seconds are given apart
(they do not grow with the corpus) and left out of the stage's seconds.

    python benchmarks/scale.py [--factors 1,4,16] [--full] [--json out.json]
"""
from __future__ import annotations

import argparse
import itertools
import json
import subprocess
import sys
import tempfile
import time
from pathlib import Path

import numpy as np

SYSTEMS = {"bert": 0.08, "gliner": 0.11, "llm": 0.14, "spacy-trained": 0.22}  # share of entities edited


class Stopwatch:
    """Named wall-clock laps of one stage."""

    def __init__(self):
        self.laps: dict[str, float] = {}
        self._t = time.perf_counter()

    def lap(self, name: str) -> None:
        now = time.perf_counter()
        self.laps[name] = now - self._t
        self._t = now


def edited(gold: list[list[str]], types: tuple[str, ...], rate: float, seed: int) -> list[list[str]]:
    """Gold tags with a share `rate` of entities dropped, retyped or shortened."""
    from harness.data.spans import strict_spans

    rng = np.random.default_rng(seed)
    out = []
    for tags in gold:
        pred = list(tags)
        for start, end, kind in strict_spans(tags):
            if rng.random() >= rate:
                continue
            edit = rng.integers(3)
            if edit == 0:
                pred[start:end] = ["O"] * (end - start)
            elif edit == 1:
                other = types[(types.index(kind) + 1) % len(types)]
                pred[start:end] = [f"B-{other}"] + [f"I-{other}"] * (end - start - 1)
            elif end - start > 1:
                pred[end - 1] = "O"
        out.append(pred)
    return out


def stage_load(folder: Path) -> dict:
    from harness.data.corpus import to_scheme
    from harness.data.multinerd import load_local
    from harness.data.multinerd import get_scheme
    from harness.core.sources import resolve_encoder
    from systems.encoder.tagger import EncoderTagger

    clock = Stopwatch()
    data = load_local(folder)
    clock.lap("read and validate")
    train = to_scheme(data.splits["train"], get_scheme("B"))
    clock.lap("scheme mapping")
    system = EncoderTagger(get_scheme("B"), EncoderTagger.make_config("offline"))
    system.load_tokenizer(resolve_encoder(system.config.model))
    clock.lap("tokenizer load")
    features = system.training_dataset(train)
    clock.lap("sub-token alignment")
    return {"sentences": len(train), "windows": len(features), "seconds": clock.laps}


def stage_score(folder: Path) -> dict:
    from harness.evaluation.contenders import paired_test
    from harness.data.multinerd import read_jsonl
    from harness.data.benchmarks import BENCHMARKS
    from harness.core.fileio import write_json_atomic
    from harness.reporting.published import load_results
    from harness.reporting.reports import write_benchmark_report
    from harness.run.runner import evaluate, results_path

    bench = BENCHMARKS["B"]
    templates = load_results(Path(__file__).resolve().parents[1] / "reports", "B")
    split = read_jsonl(Path(folder) / "test" / "test_en.jsonl")
    tokens = split.tokens
    gold = [[bench.scheme.map_tag(t) for t in tags] for tags in split.tags]
    preds = {name: edited(gold, bench.scheme.types, rate, seed)
             for seed, (name, rate) in enumerate(SYSTEMS.items())}
    clock = Stopwatch()
    results = {name: templates[name].with_analysis(*evaluate(tokens, gold, pred, bench.scheme, 42))
               for name, pred in preds.items()}
    clock.lap("scoring and bootstrap (4 systems)")
    with tempfile.TemporaryDirectory() as reports:
        for name, r in results.items():
            write_json_atomic(results_path(Path(reports), bench.name, name), r.to_dict())
        write_benchmark_report(Path(reports), bench)
    clock.lap("report (pairwise tests, Markdown, JSON, plots)")
    # The report ran the six tests; timed again alone to show their share.
    t0 = time.perf_counter()
    pairs = {f"{a} - {b}": paired_test(results[a], results[b])
             for a, b in itertools.combinations(results, 2)}
    return {"sentences": len(gold), "seconds": clock.laps,
            "of_which_pairwise_tests": round(time.perf_counter() - t0, 2),
            "f1": {n: round(r.test["f1"], 4) for n, r in results.items()},
            "p_values": {k: v["p_value"] for k, v in pairs.items()}}


def run_stage(stage: str, folder: Path) -> dict:
    """One stage in a fresh process; its result and its peak memory."""
    proc = subprocess.run([sys.executable, __file__, "--stage", stage, "--folder", str(folder)],
                          capture_output=True, text=True)
    if proc.returncode:
        raise SystemExit(f"stage {stage} on {folder} failed:\n{proc.stderr[-3000:]}")
    return json.loads(proc.stdout.strip().splitlines()[-1])


def child(stage: str, folder: Path) -> None:
    """Imports first, timed apart: their cost does not grow with the corpus."""
    from harness.measure.latency import peak_rss_mb

    t0 = time.perf_counter()
    import datasets  # noqa: F401
    import matplotlib.pyplot  # noqa: F401
    import nervaluate  # noqa: F401
    import seqeval.metrics  # noqa: F401
    import transformers  # noqa: F401

    from harness.core import registry
    from harness.reporting import reports
    from harness.run import runner
    registry.registered()   # the report names each system's sections
    imports = time.perf_counter() - t0
    out = {"load": stage_load, "score": stage_score}[stage](folder)
    print(json.dumps(out | {"imports_seconds": round(imports, 2),
                            "peak_mib": round(peak_rss_mb(), 1)}))


def measure(source: Path, label: str, factor: float | None, seed: int = 0) -> dict:
    from synthetic_corpus import sizes_for, write_corpus

    with tempfile.TemporaryDirectory() as tmp:
        t0 = time.perf_counter()
        sizes = write_corpus(source, Path(tmp), sizes_for(source, factor), seed)
        made = time.perf_counter() - t0
        row = {"scale": label, "sizes": sizes, "corpus_seconds": made}
        for stage in ("load", "score"):
            row[stage] = run_stage(stage, Path(tmp))
            print(f"[scale] {label} {stage}: {sum(row[stage]['seconds'].values()):.1f} s, "
                  f"peak {row[stage]['peak_mib']:.0f} MiB", file=sys.stderr)
    return row


def table(rows: list[dict]) -> str:
    from tabulate import tabulate

    lines = []
    for r in rows:
        for stage in ("load", "score"):
            s = r[stage]
            total = sum(s["seconds"].values())
            lines.append([r["scale"], stage, f"{s['sentences']:,}", f"{total:.1f}",
                          f"{1000 * total / s['sentences']:.2f}", f"{s['peak_mib']:.0f}",
                          "; ".join(f"{k} {v:.1f}" for k, v in s["seconds"].items())])
    return tabulate(lines, headers=["scale", "stage", "sentences", "seconds", "s per 1k",
                                    "peak MiB", "parts (s)"], tablefmt="github",
                    disable_numparse=True)


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--factors", default="1,4,16")
    ap.add_argument("--full", action="store_true", help="also MultiNERD English's full size")
    ap.add_argument("--json", type=Path, help="write the measurements here too")
    ap.add_argument("--stage", choices=("load", "score"), help=argparse.SUPPRESS)
    ap.add_argument("--folder", type=Path, help=argparse.SUPPRESS)
    args = ap.parse_args()
    if args.stage:
        return child(args.stage, args.folder)

    from _common import require_data_folder
    from harness.measure.provenance import git_commit, hardware

    source = require_data_folder()
    plan = [(f"{f}x", float(f)) for f in args.factors.split(",") if f]
    plan += [("full", None)] if args.full else []
    rows = [measure(source, label, factor) for label, factor in plan]
    print(table(rows))
    out = {"hardware": hardware(), "commit": git_commit(), "rows": rows}
    print(json.dumps({"hardware": out["hardware"], "commit": out["commit"]}))
    if args.json:
        args.json.write_text(json.dumps(out, indent=2) + "\n")


if __name__ == "__main__":
    main()
