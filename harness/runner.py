"""dataset -> system -> predictions -> metrics -> report, for each benchmark and system."""
from __future__ import annotations

import dataclasses
import hashlib
import json
import shutil
import sys
import time
from dataclasses import dataclass, field
from pathlib import Path

from benchmarks.definitions import PROFILES, Benchmark
from systems.base import NERSystem, get_system, registered

from . import evaluation, latency, reports
from .data import LoadedData, contamination, load_multinerd, subsample_indices, to_scheme
from .fileio import check_writable, write_json_atomic, write_jsonl_atomic
from .metrics import score
from .progress import progress_enabled
from .provenance import environment
from .runspec import RunSpec


@dataclass
class RunOptions:
    systems: list[str]
    benchmarks: list[Benchmark]
    profile: str = "offline"
    data: str | None = None
    limit: int | None = None          # training sentences (deterministic subset)
    eval_limit: int | None = None     # validation and test sentences
    epochs: int | None = None
    batch_size: int | None = None
    seed: int = 42
    reports_dir: Path = Path("reports")
    runs_dir: Path = Path("runs")
    force: bool = False
    latency_only: bool = False        # measure latency of a saved model; no training
    latency_batches: int = 30
    latency_sentences: int = 256
    command: str = ""
    overrides: dict = field(default_factory=dict)


def log(msg: str) -> None:
    print(f"[harness] {msg}", file=sys.stderr, flush=True)


def select_systems(names: list[str]) -> tuple[list[str], dict[str, str]]:
    """Resolve 'all' and check requirements: (runnable, {skipped: reason})."""
    if names == ["all"]:
        names = list(registered())
    runnable, skipped = [], {}
    for name in names:
        cls = get_system(name)  # raises, listing the known systems
        missing = cls.missing_requirements()
        if missing:
            skipped[name] = f"missing Python packages: {', '.join(missing)}"
        else:
            runnable.append(name)
    return runnable, skipped


def run(opts: RunOptions) -> list[dict]:
    check_writable(opts.reports_dir)
    check_writable(opts.runs_dir)
    runnable, skipped = select_systems(opts.systems)
    for name, why in skipped.items():
        log(f"skipping system {name!r}: {why}")
    if not runnable:
        log("no runnable system")
        return []
    data_arg = opts.data or PROFILES[opts.profile].default_data
    log(f"loading data from {data_arg}")
    data = load_multinerd(data_arg)
    results = []
    for bench in opts.benchmarks:
        for name in runnable:
            results.append(run_one(opts, bench, name, data))
            reports.write_benchmark_report(opts.reports_dir, bench, skipped)
    return results


def _splits(opts: RunOptions, bench: Benchmark, data: LoadedData):
    raw = data.splits
    train_idx = subsample_indices(len(raw["train"]), opts.limit, opts.seed)
    val_idx = subsample_indices(len(raw["validation"]), opts.eval_limit, opts.seed)
    test_idx = subsample_indices(len(raw["test"]), opts.eval_limit, opts.seed)
    return (to_scheme(raw["train"], bench.scheme, train_idx),
            to_scheme(raw["validation"], bench.scheme, val_idx),
            to_scheme(raw["test"], bench.scheme, test_idx))


def run_one(opts: RunOptions, bench: Benchmark, name: str, data: LoadedData) -> dict:
    cls = get_system(name)
    overrides = dict(opts.overrides, epochs=opts.epochs, batch_size=opts.batch_size, seed=opts.seed)
    config = cls.make_config(opts.profile, **overrides)
    spec = RunSpec(
        benchmark=bench.name, scheme_types=bench.scheme.types, system=name,
        profile=opts.profile, system_config=dataclasses.asdict(config),
        data_fingerprint=data.fingerprint, train_limit=opts.limit,
        eval_limit=opts.eval_limit, seed=opts.seed, data_source=data.source,
        environment=environment(),
    )
    run_dir = spec.run_dir(opts.runs_dir)
    results_file = run_dir / "results.json"
    if opts.latency_only:
        return latency_only(opts, bench, name, cls, run_dir)
    if results_file.is_file() and not opts.force:
        log(f"{bench.name}/{name}: reusing finished results in {run_dir} (--force to redo)")
        result = rescore(json.loads(results_file.read_text()), run_dir, bench, opts.seed)
        write_json_atomic(results_file, result)
        publish(opts, bench, name, result)
        return result

    train, validation, test = _splits(opts, bench, data)
    if opts.force and run_dir.exists():
        shutil.rmtree(run_dir)
    write_json_atomic(run_dir / "spec.json", spec.to_dict())

    model_dir = run_dir / "model"
    history_file = run_dir / "history.json"
    if (model_dir.is_dir() and history_file.is_file()):
        log(f"{bench.name}/{name}: reusing the trained model in {model_dir}")
        system = cls.load(model_dir)
        history = json.loads(history_file.read_text())
        train_seconds = None
    else:
        system = cls(bench.scheme, config)
        log(f"{bench.name}/{name}: training on {len(train)} sentences "
            f"({len(validation)} validation) with {config}")
        t0 = time.perf_counter()
        history = system.train(train, validation, workdir=run_dir / "checkpoints")
        train_seconds = time.perf_counter() - t0
        system.save(model_dir)
        write_json_atomic(history_file, history)
        # The saved model supersedes the Trainer's checkpoints (large for bert-base).
        shutil.rmtree(run_dir / "checkpoints", ignore_errors=True)

    tokens, gold = list(test["tokens"]), list(test["tags"])
    log(f"{bench.name}/{name}: predicting {len(tokens)} test sentences")
    system.reset_stats()
    t0 = time.perf_counter()
    pred = system.predict(tokens, show_progress=progress_enabled()) if _accepts_progress(system) \
        else system.predict(tokens)
    predict_seconds = time.perf_counter() - t0
    prediction_stats = system.prediction_stats()
    raw = system.raw_outputs()
    if raw is not None and len(raw) != len(pred):   # never let extras cost a prediction
        log(f"{bench.name}/{name}: raw_outputs() gave {len(raw)} entries for {len(pred)} "
            f"sentences; predictions saved without them")
        raw = None
    raw = raw or [{}] * len(pred)
    write_jsonl_atomic(run_dir / "predictions" / "test.jsonl", (
        {"tokens": t, "gold": g, "pred": p, **r} for t, g, p, r in zip(tokens, gold, pred, raw)))
    test_scores = score(gold, pred)
    analysis = analyse(tokens, gold, pred, bench, opts.seed)
    log(f"{bench.name}/{name}: test P {test_scores['precision']:.4f} "
        f"R {test_scores['recall']:.4f} F1 {test_scores['f1']:.4f}")

    lat = measure_latency(opts, system, tokens)
    result = {
        "benchmark": bench.name,
        "system": name,
        "description": cls.description,
        "spec": spec.to_dict(),
        "run_dir": str(run_dir),
        "command": opts.command,
        "history": history,
        "test": test_scores,
        **analysis,
        "latency": lat,
        "prediction_stats": prediction_stats,
        "runtime": system.runtime_info(),
        "timing": {"train_seconds": train_seconds, "predict_seconds": predict_seconds,
                   "predict_sentences": len(test)},
        "data": {
            "source": data.source,
            "fingerprint": data.fingerprint,
            "sentences": {"train": len(train), "validation": len(validation), "test": len(test)},
            "skipped_empty": data.skipped_empty,
            "test_in_train": contamination(data.splits["train"], data.splits["test"]),
        },
        "notes": system.notes,
    }
    write_json_atomic(results_file, result)
    publish(opts, bench, name, result)
    return result


def latency_only(opts: RunOptions, bench: Benchmark, name: str, cls, run_dir: Path) -> dict:
    """Re-measure latency of the saved model of this spec and update its results."""
    results_file = run_dir / "results.json"
    if not (run_dir / "model").is_dir() or not results_file.is_file():
        raise FileNotFoundError(
            f"{run_dir}: no finished run for this spec; run without --latency-only first")
    log(f"{bench.name}/{name}: measuring latency of the saved model in {run_dir / 'model'}")
    system = cls.load(run_dir / "model")
    tokens, _, _ = read_predictions(run_dir)
    result = json.loads(results_file.read_text())
    result["latency"] = measure_latency(opts, system, tokens)
    result["runtime"] = system.runtime_info()
    result["latency_measured"] = environment()
    write_json_atomic(results_file, result)
    publish(opts, bench, name, result)
    return result


def read_predictions(run_dir: Path) -> tuple[list, list, list]:
    rows = [json.loads(line) for line in
            (run_dir / "predictions" / "test.jsonl").read_text(encoding="utf-8").splitlines()]
    return [r["tokens"] for r in rows], [r["gold"] for r in rows], [r["pred"] for r in rows]


def rescore(result: dict, run_dir: Path, bench: Benchmark, seed: int) -> dict:
    """Recompute every score from the saved predictions with the current
    metric code; training, predictions and latency are kept as they were."""
    tokens, gold, pred = read_predictions(run_dir)
    return result | {"test": score(gold, pred), **analyse(tokens, gold, pred, bench, seed),
                     "scored": {"by_commit": environment()["git_commit"],
                                "from": str(run_dir / "predictions" / "test.jsonl")}}


def analyse(tokens, gold, pred, bench: Benchmark, seed: int) -> dict:
    """Everything a reviewer asks beyond P/R/F1; per-sentence counts are kept
    so that systems can be compared with a paired test from results alone."""
    counts = evaluation.sentence_counts(gold, pred)
    return {
        "test_f1_bootstrap": evaluation.bootstrap_f1_ci(gold, pred, seed=seed),
        "error_taxonomy": evaluation.error_taxonomy(gold, pred),
        "confusion": evaluation.confusion(gold, pred, bench.scheme.types),
        "word_tag": evaluation.word_tag_scores(tokens, gold, pred),
        "test_sentences_sha256": hashlib.sha256(json.dumps(tokens).encode()).hexdigest(),
        "sentence_counts": counts.tolist(),
    }


def _accepts_progress(system: NERSystem) -> bool:
    import inspect
    return "show_progress" in inspect.signature(system.predict).parameters


def measure_latency(opts: RunOptions, system: NERSystem, sentences) -> list[dict]:
    pool = list(sentences[: opts.latency_sentences])
    out = []
    for bs in sorted({1, system.runtime_info()["batch_size"]}):
        log(f"latency: batch size {bs}, {opts.latency_batches} timed batches")
        out.append(latency.measure(
            system.predict, pool, bs, timed_batches=opts.latency_batches, seed=opts.seed,
            token_counter=lambda: system.prediction_stats().get("generated_tokens")))
    return out


def publish(opts: RunOptions, bench: Benchmark, name: str, result: dict) -> None:
    """Copy a finished result to where the benchmark report collects them."""
    write_json_atomic(reports.results_path(opts.reports_dir, bench.name, name), result)
