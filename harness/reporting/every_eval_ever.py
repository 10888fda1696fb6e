"""A benchmark's results in the Every Eval Ever schema (version 0.3.0), the
shared format into which EuroEval and other harnesses write, so that results
from several harnesses can be gathered in one place: one record per
contender, with micro and macro F1, precision and recall, each with its 95%
interval and how it was computed."""
from __future__ import annotations

import json
import time
from pathlib import Path

from harness.evaluation.aggregates import aggregate
from harness.core.fileio import write_json_atomic
from harness.data.benchmarks import Benchmark
from harness.reporting.published import Seeded, load_seeded, representative

SCHEMA_VERSION = "0.3.0"
LIBRARY = "multinerd-ner-harness"


def _strings(d: dict) -> dict[str, str]:
    return {k: str(v) for k, v in d.items() if v is not None}


def _slug(bench: Benchmark) -> str:
    """'multinerd-en' for MultiNERD English: the dataset in record ids."""
    return f"{bench.dataset.name.lower().replace(' ', '-')}-{bench.dataset.language}"


def _source_data(r, bench: Benchmark) -> dict:
    source = r.data["source"]
    details = {"scheme": bench.name, "data_sha256": r.data["fingerprint"]}
    if Path(source).exists() or "/" not in source or source.startswith(("/", ".")):
        return {"dataset_name": f"{bench.dataset.title} (local copy)", "source_type": "other",
                "additional_details": _strings(details | {"path": source})}
    return {"dataset_name": bench.dataset.title, "source_type": "hf_dataset", "hf_repo": source,
            "hf_split": "test", "samples_number": r.data["sentences"]["test"],
            "additional_details": _strings(details)}


def _metric(bench: Benchmark, metric_id: str, name: str, score: float, interval: dict | None,
            source: dict, details: dict) -> dict:
    scored = {"score": score, "details": _strings(details)}
    if interval:
        scored["uncertainty"] = interval
    return {"evaluation_result_id": f"{_slug(bench)}.{bench.name}.{metric_id}",
            "evaluation_name": f"{bench.dataset.title}, label scheme {bench.name}: {name} "
                               f"(entity level, seqeval strict IOB2)",
            "source_data": source,
            "metric_config": {"metric_id": metric_id, "metric_name": name, "metric_kind": "f1"
                              if "f1" in metric_id else metric_id, "metric_unit": "proportion",
                              "lower_is_better": False, "score_type": "continuous",
                              "min_score": 0, "max_score": 1},
            "score_details": scored}


def _f1_interval(seeded: Seeded) -> dict:
    agg, r = aggregate(seeded), representative(seeded)
    method = ("Student t over training seeds" if agg.interval == "seeds"
              else "percentile bootstrap over test sentences")
    out = {"confidence_interval": {"lower": agg.low, "upper": agg.high, "confidence_level": 0.95,
                                   "method": method},
           "num_samples": agg.n if agg.interval == "seeds" else r.test["sentences"]}
    if agg.interval != "seeds" and r.test_f1_bootstrap:
        out["num_bootstrap_samples"] = r.test_f1_bootstrap["resamples"]
    return out


def record(bench: Benchmark, name: str, seeded: Seeded, retrieved: str) -> dict:
    """The Every Eval Ever record of one contender of a benchmark."""
    r, agg = representative(seeded), aggregate(seeded)
    env, cfg = r.spec.get("environment", {}), r.spec["system_config"]
    mean = lambda key: sum(x.test[key] for x in seeded.values()) / len(seeded)
    source = _source_data(r, bench)
    seeds = {"seeds": ",".join(map(str, agg.seeds)),
             "per_seed": ",".join(f"{f:.4f}" for f in agg.f1)}
    results = [_metric(bench, "f1_micro", "F1-micro", agg.mean, _f1_interval(seeded), source, seeds)]
    macro = r.macro_f1_bootstrap if len(seeded) == 1 else None
    results.append(_metric(bench, "f1_macro", "F1-macro", agg.macro_mean, macro and {
        "confidence_interval": {"lower": macro["ci95"][0], "upper": macro["ci95"][1],
                                "confidence_level": 0.95,
                                "method": "percentile bootstrap over test sentences"},
        "num_bootstrap_samples": macro["resamples"]}, source, seeds))
    results += [_metric(bench, k, k.capitalize(), mean(k), None, source, seeds)
                for k in ("precision", "recall")]
    return {
        "schema_version": SCHEMA_VERSION,
        "evaluation_id": f"{_slug(bench)}-{bench.name}/{name}/{retrieved}",
        "evaluation_timestamp": env.get("created", ""),
        "retrieved_timestamp": retrieved,
        "source_metadata": {"source_name": LIBRARY, "source_type": "evaluation_run",
                            "source_organization_name": LIBRARY,
                            "evaluator_relationship": "third_party",
                            "additional_details": _strings({"run_digest": r.spec["digest"],
                                                            "command": r.command})},
        "eval_library": {"name": LIBRARY, "version": "0.1.0",
                         "additional_details": _strings({"git_commit": env.get("git_commit")})},
        "model_info": {"name": name, "id": cfg.get("model") or r.system,
                       "inference_platform": "local",
                       "additional_details": _strings({
                           "deployment_type": "self_deployed", "model_availability": "open_weights",
                           "system": r.system, "profile": r.spec["profile"],
                           "train_sentences": r.train_sentences if r.history else "zero-shot",
                           "epochs": len(r.history)})},
        "evaluation_results": results,
    }


# What changes with every export, not with the results.
RETRIEVAL_FIELDS = ("evaluation_id", "retrieved_timestamp")


def _same_results(path: Path, new: dict) -> bool:
    """Does the record at `path` differ from `new` only in when it was retrieved?"""
    try:
        old = json.loads(path.read_text())
    except (OSError, ValueError):
        return False
    strip = lambda d: {k: v for k, v in d.items() if k not in RETRIEVAL_FIELDS}
    return isinstance(old, dict) and strip(old) == strip(new)


def export(reports_dir: Path, bench: Benchmark, out_dir: Path) -> tuple[list[Path], list[Path]]:
    """One JSON file per contender of the benchmark under `out_dir/<benchmark>/`:
    (every record's path, those written).  A record whose results are unchanged
    keeps its file, so that re-exporting rewrites only what changed."""
    retrieved = str(int(time.time()))
    paths, written = [], []
    for name, seeded in load_seeded(reports_dir, bench.name).items():
        path = Path(out_dir) / bench.name / f"{name}.json"
        rec = record(bench, name, seeded, retrieved)
        if not _same_results(path, rec):
            write_json_atomic(path, rec)
            written.append(path)
        paths.append(path)
    return paths, written
