"""dataset -> system -> predictions -> metrics -> report, for each benchmark and system.

`run_one` is a pipeline of stages with one job each; each takes what it
needs and hands on a typed value:

    plan             the run spec and its folder
    train_or_load    a trained system and its per-epoch history
    predict_and_save predictions (and raw outputs) written to the run folder
    evaluate         scores and analysis of the saved predictions
    time_latency     the latency protocol on test sentences
"""
from __future__ import annotations

import dataclasses
import hashlib
import json
import shutil
import sys
import time
from dataclasses import dataclass, field
from pathlib import Path

from harness.core import distributed
from harness.evaluation import analysis
from harness.measure import contention, latency
from harness.measure import roofline
from harness.run import runlock
from harness.data.conll import write_conll
from harness.data.corpus import LoadedData, check_tag_set, contamination, subsample_indices, to_scheme
from harness.core.profiles import PROFILES
from harness.data.benchmarks import Benchmark
from harness.core.errors import ConfigError, ModelNotFoundError
from harness.core.fileio import check_writable, write_json_atomic
from harness.evaluation.metrics import score
from harness.data.predictions import RELATIVE_PATH, read_predictions, write_predictions
from harness.reporting.published import results_path
from harness.core.seeds import DEFAULT_SEED
from harness.measure.provenance import environment, now_utc
from harness.core.registry import get_system, registered, unavailable
from harness.evaluation.results import Analysis, RunResult
from harness.run.runspec import RunSpec
from harness.core.labels import LabelScheme
from harness.core.system import Counters, NERSystem, SystemConfig, has_checkpoint


@dataclass
class RunOptions:
    systems: list[str]
    benchmarks: list[Benchmark]
    profile: str = "offline"
    data: str | None = None
    limit: int | None = None          # training sentences (deterministic subset)
    system_limits: dict = field(default_factory=dict)   # system -> its own training size
    eval_limit: int | None = None     # validation and test sentences
    epochs: int | None = None
    batch_size: int | None = None
    seed: int = DEFAULT_SEED
    seeds: tuple[int, ...] = ()       # several training seeds (each run is one); () = (seed,)
    eval_seed: int | None = None      # seed of the validation/test subsets; None = seed
    reports_dir: Path = Path("reports")
    runs_dir: Path = Path("runs")
    force: bool = False
    latency_only: bool = False        # measure latency of a saved model; no training
    executor: str = "local"           # local | slurm | ray (grid.execute)
    executor_options: dict = field(default_factory=dict)   # SlurmOptions or RayOptions fields
    latency_batches: int = 30
    latency_sentences: int = 256
    latency_warmup: int = 2
    command: str = ""
    overrides: dict = field(default_factory=dict)
    label: str | None = None          # the name the result has in the report (one system)

    def limit_for(self, system: str) -> int | None:
        """The training size of `system`: its own if given, else the common one."""
        return self.system_limits.get(system, self.limit)

    def per_seed(self) -> list["RunOptions"]:
        """One set of options per training seed.  Every seed validates and
        tests on the first seed's subsets, so that seeds stay paired on the
        same test sentences."""
        seeds = self.seeds or (self.seed,)
        return [dataclasses.replace(self, seed=s, seeds=(), eval_seed=seeds[0]) for s in seeds]

    @property
    def eval_subset_seed(self) -> int:
        return self.seed if self.eval_seed is None else self.eval_seed

    def spec_eval_seed(self) -> int | None:
        """The eval seed as the spec records it: only where it draws other
        sentences than the run's own seed would (so single-seed runs keep their hash)."""
        differs = self.eval_seed is not None and self.eval_seed != self.seed
        return self.eval_seed if differs and self.eval_limit is not None else None


@dataclass(frozen=True)
class Plan:
    """What one (benchmark, system) run is: its class, config, spec and folder."""

    cls: type[NERSystem]
    config: object
    spec: RunSpec
    run_dir: Path

    @property
    def results_file(self) -> Path:
        return self.run_dir / "results.json"


@dataclass
class Trained:
    system: NERSystem
    history: list[dict]
    train_seconds: float | None   # None when the saved model was reused
    conditions: dict | None = None   # training.json: where and beside what it trained


@dataclass
class Predicted:
    tokens: list
    gold: list
    pred: list
    seconds: float
    counters: Counters | None


def log(msg: str) -> None:
    if distributed.is_main():   # under torchrun, one process speaks for all
        print(f"[harness] {msg}", file=sys.stderr, flush=True)


def select_systems(opts: RunOptions) -> tuple[list[str], dict[str, str]]:
    """Resolve 'all' and check each system's requirements, with its config's
    (an optional backend): (runnable, {skipped: reason})."""
    absent = unavailable()
    names = sorted(set(registered()) | set(absent)) if opts.systems == ["all"] else opts.systems
    runnable, skipped = [], {}
    for name in names:
        if name in absent:
            skipped[name] = absent[name]
            continue
        cls = get_system(name)  # raises, listing the known systems
        missing = cls.missing_requirements(system_config(opts, name))
        if missing:
            skipped[name] = f"missing Python packages: {', '.join(missing)}"
        else:
            runnable.append(name)
    return runnable, skipped


def prepare(opts: RunOptions) -> tuple[list[str], dict[str, str], "Corpora | None"]:
    """Check the output folders, pick the runnable systems and read each
    benchmark's data (None when no system can run)."""
    check_writable(opts.reports_dir)
    check_writable(opts.runs_dir)
    runnable, skipped = select_systems(opts)
    log_skipped(skipped, "skipping")
    stray = sorted(set(opts.system_limits) - set(runnable) - set(skipped))
    if stray:
        raise ConfigError(f"--limit names system(s) {stray} that this run does not include")
    owners = {key.rpartition(".")[0] for key in opts.overrides if "." in key}
    stray = sorted(owners - set(runnable) - set(skipped))
    if stray:
        raise ConfigError(f"--set names system(s) {stray} that this run does not include "
                          f"(it runs {', '.join(runnable + list(skipped))})")
    if not runnable:
        log("no runnable system")
        return [], skipped, None
    corpora = Corpora(opts.data, PROFILES[opts.profile].hub_data)
    for bench in opts.benchmarks:   # every dataset read before anything trains
        corpora(bench)
    return runnable, skipped, corpora


class Corpora:
    """The data of each benchmark, read once per dataset (A and B share
    MultiNERD English): from --data when given, else from the dataset's own
    source under the profile (the hub, or its local folder)."""

    def __init__(self, data: str | None, hub: bool):
        self.data, self.hub = data, hub
        self._loaded: dict = {}

    def __call__(self, bench: Benchmark) -> LoadedData:
        dataset = bench.dataset
        if dataset not in self._loaded:
            source = dataset.source(self.data, self.hub)
            log(f"loading {dataset.title} from {source}")
            self._loaded[dataset] = dataset.load(source)
            check_tag_set(self._loaded[dataset], bench.scheme.inventory, dataset.title)
        return self._loaded[dataset]


def check_label(opts: RunOptions) -> None:
    if opts.label and len(opts.systems) != 1:
        raise ConfigError("--label names the result of one system; give one system")


def run(opts: RunOptions) -> list[RunResult]:
    """Each system on each benchmark; each result becomes the system's entry
    in the benchmark report."""
    from harness.run.grid import GridPoint, execute

    check_label(opts)
    runnable, skipped, data = prepare(opts)
    points = [GridPoint(seeded, bench, name, published_path)
              for bench in opts.benchmarks for seeded in opts.per_seed() for name in runnable]
    results = execute(points, data, runnable, skipped, opts)
    log_skipped(skipped)  # again at the end, where a reader of the log looks
    return results


def run_or_skip(opts: RunOptions, bench: Benchmark, name: str, data: LoadedData,
                runnable: list[str], skipped: dict[str, str]) -> RunResult | None:
    """One run; where several systems run and this one's model cannot be had
    (an unreachable hub model, a package not installed), the system is
    skipped with the reason and the others go on."""
    try:
        return run_one(opts, bench, name, data)
    except ModelNotFoundError as err:
        if len(runnable) + len(skipped) < 2:
            raise
        runnable.remove(name)
        skipped[name] = f"model not available: {err}"
        log(f"skipping system {name!r}: {skipped[name]}")
        return None


def published_path(opts: RunOptions, bench: Benchmark, result: RunResult) -> Path:
    """Where a finished result is the system's entry (for its seed) in the benchmark report."""
    return results_path(opts.reports_dir, bench.name, opts.label or result.system, opts.seed)


def log_skipped(skipped: dict[str, str], verb: str = "skipped") -> None:
    for name, why in skipped.items():
        log(f"{verb} system {name!r}: {why}")


def run_one(opts: RunOptions, bench: Benchmark, name: str, data: LoadedData) -> RunResult:
    plan_ = plan(opts, bench, name, data)
    with runlock.holding(plan_.run_dir, log):
        return _run_planned(opts, bench, plan_, data)


def _run_planned(opts: RunOptions, bench: Benchmark, plan_: Plan, data: LoadedData) -> RunResult:
    name = plan_.spec.system
    if opts.latency_only:
        result = remeasure_latency(plan_, bench.scheme, latency_protocol(opts))
    elif plan_.results_file.is_file() and not opts.force:
        log(f"{bench.name}/{name}: reusing finished results in {plan_.run_dir} (--force to redo)")
        result = rescore(RunResult.read(plan_.results_file), plan_.run_dir, bench.scheme)
    else:
        result = execute(opts, bench, plan_, data)
    distributed.on_main(lambda: write_json_atomic(plan_.results_file, result.to_dict()))
    return result


def overrides_for(system: str, overrides: dict) -> dict:
    """Config overrides that apply to `system`: plain keys apply to every
    system, ``system.key`` to that system alone."""
    out = {}
    for key, value in overrides.items():
        owner, dot, field = key.rpartition(".")
        if not dot:
            out[key] = value
        elif owner == system:
            out[field] = value
    return out


def system_config(opts: RunOptions, name: str) -> SystemConfig:
    """A system's config: its profile's defaults, then --epochs and
    --batch-size where given, then a --set for this system, which wins.
    --epochs leaves a zero-shot system (0 epochs by default) at 0: it is for
    the systems that train, and would only relabel a run that trains nothing."""
    system = get_system(name)
    given = {k: v for k, v in (("epochs", opts.epochs), ("batch_size", opts.batch_size))
             if v is not None}
    if getattr(system.make_config(opts.profile), "epochs", None) == 0:
        given.pop("epochs", None)
    overrides = given | overrides_for(name, opts.overrides) | {"seed": opts.seed}
    return system.make_config(opts.profile, **overrides)


def plan(opts: RunOptions, bench: Benchmark, name: str, data: LoadedData,
         world_size: int | None = None) -> Plan:
    """The run a point is; `world_size`: its processes, when not this process's launch."""
    cls = get_system(name)
    config = system_config(opts, name)
    spec = RunSpec(
        benchmark=bench.name, scheme_types=bench.scheme.types, system=name,
        profile=opts.profile, system_config=dataclasses.asdict(config),
        data_fingerprint=data.fingerprint, train_limit=opts.limit_for(name),
        eval_limit=opts.eval_limit, seed=opts.seed,
        world_size=world_size or distributed.world_size(),
        eval_seed=opts.spec_eval_seed(), data_source=data.source,
        environment=environment(cls.packages()), unhashed=tuple(config.unhashed_fields()),
        retired=dict(config.retired),
        inference=tuple(config.inference_fields()),
    )
    return Plan(cls, config, spec, spec.run_dir(opts.runs_dir))


def execute(opts: RunOptions, bench: Benchmark, plan_: Plan, data: LoadedData) -> RunResult:
    """Train (or load), predict, evaluate and time one planned run."""
    train, validation, test = splits(data, bench.scheme, plan_.spec.train_limit,
                                     opts.eval_limit, opts.seed, opts.eval_subset_seed)
    if opts.force and plan_.run_dir.exists():
        distributed.on_main(lambda: shutil.rmtree(plan_.run_dir))
    distributed.on_main(lambda: write_json_atomic(plan_.run_dir / "spec.json", plan_.spec.to_dict()))
    label = f"{bench.name}/{plan_.spec.system}"
    trained = train_or_load(plan_, bench.scheme, train, validation, label)
    predicted = predict_and_save(trained.system, test, plan_.run_dir, label)
    test_scores, analysis = evaluate(predicted.tokens, predicted.gold, predicted.pred,
                                     bench.scheme, opts.seed)
    log(f"{label}: test P {test_scores['precision']:.4f} R {test_scores['recall']:.4f} "
        f"F1 {test_scores['f1']:.4f}")
    # Timed on one process, while the others wait (the report says so).
    t0 = time.perf_counter()
    lat = distributed.on_main(lambda: time_latency(
        trained.system, predicted.tokens, latency_protocol(opts))) or []
    latency_seconds = time.perf_counter() - t0
    return RunResult(
        benchmark=bench.name, system=plan_.spec.system, description=plan_.cls.description,
        spec=plan_.spec.to_dict(), run_dir=str(plan_.run_dir), command=opts.command,
        history=trained.history, test=test_scores, **dataclasses.asdict(analysis),
        latency=lat,
        prediction_stats=predicted.counters.to_dict() if predicted.counters else {},
        runtime=trained.system.runtime_info() | distributed.describe(),
        timing=run_timing(trained, predicted, latency_seconds),
        data=data_summary(data, train, validation, test), notes=trained.system.notes,
        training=trained.conditions)


def run_timing(trained: Trained, predicted: Predicted, latency_seconds: float) -> dict:
    """Where this run's time went.  train_seconds includes the per-epoch
    validation (validation_seconds, where the system times it); both are None
    when a saved model was reused."""
    validation = None
    if trained.train_seconds is not None:
        parts = [h["eval_seconds"] for h in trained.history if h.get("eval_seconds") is not None]
        validation = sum(parts) if parts else None
    return {"train_seconds": trained.train_seconds, "validation_seconds": validation,
            "predict_seconds": predicted.seconds, "predict_sentences": len(predicted.tokens),
            "latency_seconds": latency_seconds}


def splits(data: LoadedData, scheme: LabelScheme, limit: int | None, eval_limit: int | None,
           seed: int, eval_seed: int | None = None):
    """Train, validation and test as scheme-mapped datasets, each a seeded
    subset; validation and test drawn with `eval_seed` where given."""
    raw = data.splits
    eval_seed = seed if eval_seed is None else eval_seed
    views = []
    for split, n, s in (("train", limit, seed), ("validation", eval_limit, eval_seed),
                        ("test", eval_limit, eval_seed)):
        views.append(to_scheme(raw[split], scheme, subsample_indices(len(raw[split]), n, s)))
    return tuple(views)


def data_summary(data: LoadedData, train, validation, test) -> dict:
    return {
        "source": data.source,
        "fingerprint": data.fingerprint,
        "sentences": {"train": len(train), "validation": len(validation), "test": len(test)},
        "skipped_empty": data.skipped_empty,
        "test_in_train": contamination(data.splits["train"], data.splits["test"]),
    }


def trained_sibling(plan_: Plan) -> Path | None:
    """Another run folder of this system whose model was trained exactly as
    this run's would be (same training digest; only prediction settings differ)."""
    if not plan_.spec.inference:
        return None
    for spec_file in sorted(plan_.run_dir.parent.glob("*/spec.json")):
        folder = spec_file.parent
        if folder == plan_.run_dir or not (folder / "history.json").is_file():
            continue
        if json.loads(spec_file.read_text()).get("training_digest") == plan_.spec.training_digest:
            return folder
    return None


def training_source(plan_: Plan) -> Path:
    """The run folder whose trained model this run uses: its own, or a
    sibling trained the same way; its own when neither has trained yet."""
    if (plan_.run_dir / "history.json").is_file():
        return plan_.run_dir
    return trained_sibling(plan_) or plan_.run_dir


def train_or_load(plan_: Plan, scheme: LabelScheme, train, validation, label: str) -> Trained:
    source = training_source(plan_)
    model_dir, history_file = source / "model", source / "history.json"
    if model_dir.is_dir() and history_file.is_file():
        log(f"{label}: reusing the trained model in {model_dir}")
        system = plan_.cls.load(model_dir, config=plan_.config, scheme=scheme)
        if source != plan_.run_dir:
            system.notes.append(f"trained model and per-epoch history of run {source.name} "
                                f"(same training; prediction settings "
                                f"{', '.join(plan_.spec.inference)} may differ)")
        return Trained(system, json.loads(history_file.read_text()), None,
                       read_conditions(source / TRAINING_FILE))
    system = plan_.cls(scheme, plan_.config)
    zero_shot = getattr(plan_.config, "epochs", 1) == 0
    if zero_shot:
        log(f"{label}: zero-shot, nothing trained (any in-context examples come from the "
            f"{len(train)} training sentences) with {plan_.config}")
    else:
        log(f"{label}: training on {len(train)} sentences ({len(validation)} validation) "
            f"with {plan_.config}")
    workdir = plan_.run_dir / "checkpoints"
    resumed, started = has_checkpoint(workdir), now_utc()
    t0 = time.perf_counter()
    with contention.Watch() as watch:
        history = system.train(train, validation, workdir=workdir)
    seconds = time.perf_counter() - t0
    conditions = None if zero_shot else training_conditions(plan_, watch, seconds, resumed,
                                                            started)
    distributed.on_main(lambda: save_trained(system, history, plan_.run_dir, conditions, workdir))
    return Trained(system, history, seconds, conditions)


# Beside history.json: the trained model's own provenance, which a later
# process that reuses the model (to re-time or re-publish it) must not replace.
TRAINING_FILE = "training.json"


def training_conditions(plan_: Plan, watch: "contention.Watch", seconds: float,
                        resumed: bool, started: str) -> dict:
    """The environment this process trained in (`created`: when it finished),
    and who shared the machine meanwhile; a resumed run's covers only the
    epochs this process trained."""
    return {"environment": environment(plan_.cls.packages()), "started": started,
            "seconds": seconds, "resumed_from_checkpoint": resumed,
            "contention": watch.summary()}


def read_conditions(path: Path) -> dict | None:
    """A run folder's training.json; None for models trained before it was kept."""
    return json.loads(path.read_text()) if path.is_file() else None


def save_trained(system: NERSystem, history: list[dict], run_dir: Path,
                 conditions: dict | None, workdir: Path) -> None:
    system.save(run_dir / "model")
    if conditions is not None:
        write_json_atomic(run_dir / TRAINING_FILE, conditions)
    write_json_atomic(run_dir / "history.json", history)
    system.finish_training(workdir)


def predict_and_save(system: NERSystem, test, run_dir: Path, label: str) -> Predicted:
    tokens, gold = list(test["tokens"]), list(test["tags"])
    log(f"{label}: predicting {len(tokens)} test sentences")
    system.reset_stats()
    t0 = time.perf_counter()
    # Under torchrun each process predicts its shard; every one gets all of them back in order.
    mine = distributed.shard(tokens)
    pred_mine = system.predict(mine, show_progress=True)   # progress() is silent off rank 0
    raw = system.raw_outputs()
    if raw is not None and len(raw) != len(pred_mine):   # never let extras cost a prediction
        log(f"{label}: raw_outputs() gave {len(raw)} entries for {len(pred_mine)} "
            f"sentences; predictions saved without them")
        raw = None
    pred = distributed.gather_shards(pred_mine, len(tokens))
    seconds = time.perf_counter() - t0
    if distributed.world_size() > 1 and raw is not None:
        raw = distributed.gather_shards(raw, len(tokens))
    distributed.on_main(lambda: write_predictions(run_dir / RELATIVE_PATH, tokens, gold, pred, raw))
    distributed.on_main(lambda: write_conll((run_dir / RELATIVE_PATH).with_suffix(".conll"),
                                            tokens, gold, pred))
    return Predicted(tokens, gold, pred, seconds, summed_counters(system.prediction_stats()))


def summed_counters(counters: Counters | None) -> Counters | None:
    """Every process's prediction counters added up (one process: as they are)."""
    if counters is None or distributed.world_size() == 1:
        return counters
    parts = distributed.all_objects(counters.to_dict())
    return type(counters)(**{k: sum(p[k] for p in parts) for k in parts[0]})


def evaluate(tokens, gold, pred, scheme: LabelScheme, seed: int) -> tuple[dict, Analysis]:
    """seqeval scores, and what a reviewer asks beyond them; per-sentence
    counts are kept so that systems can be compared with a paired test from
    results alone."""
    return score(gold, pred), Analysis(
        test_f1_bootstrap=analysis.bootstrap_f1_ci(gold, pred, seed=seed),
        error_taxonomy=analysis.error_taxonomy(gold, pred),
        confusion=analysis.confusion(gold, pred, scheme.types),
        word_tag=analysis.word_tag_scores(tokens, gold, pred),
        test_sentences_sha256=hashlib.sha256(json.dumps(tokens).encode()).hexdigest(),
        sentence_counts=analysis.sentence_counts(gold, pred).tolist(),
        macro_f1_bootstrap=analysis.bootstrap_macro_f1_ci(gold, pred, seed=seed),
        repairs=analysis.repairs(gold, pred),
        type_counts=analysis.type_counts(gold, pred),
    )


@dataclasses.dataclass(frozen=True)
class LatencyProtocol:
    timed_batches: int = 30
    warmup_batches: int = 2
    pool_size: int = 256      # batches are drawn, cycling, from the first test sentences
    seed: int = 0


def latency_protocol(opts: RunOptions) -> LatencyProtocol:
    return LatencyProtocol(opts.latency_batches, opts.latency_warmup, opts.latency_sentences,
                           opts.seed)


def time_latency(system: NERSystem, sentences, protocol: LatencyProtocol) -> list[dict]:
    """The latency protocol at batch size 1 and at the system's own batch size."""
    pool = list(sentences[:protocol.pool_size])

    def generated_tokens() -> int | None:
        counters = system.prediction_stats()
        return counters.output_tokens() if counters else None

    flop_counter = system.flops_done if system.flops_done() is not None else None
    out = []
    for bs in sorted({1, system.runtime_info()["batch_size"]}):
        log(f"latency: batch size {bs}, {protocol.warmup_batches} warm-up and "
            f"{protocol.timed_batches} timed batches")
        out.append(latency.measure(system.predict, pool, bs,
                                   warmup_batches=protocol.warmup_batches,
                                   timed_batches=protocol.timed_batches,
                                   seed=protocol.seed, token_counter=generated_tokens,
                                   flop_counter=flop_counter))
    if flop_counter is not None:
        out = with_share_of_peak(out, system.runtime_info())
    return out


def with_share_of_peak(rows: list[dict], runtime: dict) -> list[dict]:
    """Each row's achieved GFLOP/s as a share of the machine's measured peak
    in the runtime's precision (measured once per process, after the timings)."""
    top = roofline.peak_for(runtime)
    log(f"roofline: peak {top['gflops']:.1f} GFLOP/s ({top['precision']}, {top['method']})")
    return [row | {"peak": top, "share_of_peak": row["gflops_per_s"] / top["gflops"]}
            for row in rows]


def saved_predictions(run_dir: Path) -> tuple[list, list, list]:
    rows = read_predictions(run_dir / RELATIVE_PATH)
    return [r.tokens for r in rows], [r.gold for r in rows], [r.pred for r in rows]


def rescore(result: RunResult, run_dir: Path, scheme: LabelScheme) -> RunResult:
    """Recompute every score from the saved predictions with the current
    metric code; training, predictions and latency are kept as they were."""
    tokens, gold, pred = saved_predictions(run_dir)
    test_scores, analysis = evaluate(tokens, gold, pred, scheme, result.seed)
    return dataclasses.replace(
        result.with_analysis(test_scores, analysis),
        scored={"by_commit": environment()["git_commit"], "from": str(run_dir / RELATIVE_PATH)})


def remeasure_latency(plan_: Plan, scheme: LabelScheme, protocol: LatencyProtocol) -> RunResult:
    """Re-measure latency of the saved model of this spec and update its results."""
    model_dir = training_source(plan_) / "model"
    if not model_dir.is_dir() or not plan_.results_file.is_file():
        raise ModelNotFoundError(
            f"{plan_.run_dir}: no finished run for this spec; run without --latency-only first")
    log(f"{plan_.spec.benchmark}/{plan_.spec.system}: measuring latency of the saved model "
        f"in {model_dir}")
    system = plan_.cls.load(model_dir, config=plan_.config, scheme=scheme)
    tokens, _, _ = saved_predictions(plan_.run_dir)
    return dataclasses.replace(
        RunResult.read(plan_.results_file),
        latency=time_latency(system, tokens, protocol),
        runtime=system.runtime_info(), latency_measured=environment(plan_.cls.packages()))
