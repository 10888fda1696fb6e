"""Markdown and JSON benchmark reports, built from the finished results.

Each finished (benchmark, system) result is stored as
``reports/results/<benchmark>/<system>.json``; the benchmark report is
rebuilt from all of them, so running one system never drops another's
numbers.
"""
from __future__ import annotations

import json
from pathlib import Path

from tabulate import tabulate

from benchmarks.definitions import Benchmark

from .fileio import write_json_atomic, write_text_atomic


def results_path(reports_dir: Path, benchmark: str, system: str) -> Path:
    return Path(reports_dir) / "results" / benchmark / f"{system}.json"


def load_results(reports_dir: Path, benchmark: str) -> dict[str, dict]:
    folder = Path(reports_dir) / "results" / benchmark
    out = {}
    for path in sorted(folder.glob("*.json")):
        try:
            out[path.stem] = json.loads(path.read_text())
        except json.JSONDecodeError as err:
            raise ValueError(f"{path}:{err.lineno}: not valid JSON ({err.msg})") from None
    return out


def _f(x, digits: int = 4) -> str:
    if x is None:
        return "–"
    if isinstance(x, float):
        return f"{x:.{digits}f}"
    return str(x)


def _table(rows, headers) -> str:
    return tabulate(rows, headers=headers, tablefmt="github", disable_numparse=True)


def epoch_table(history: list[dict]) -> str:
    rows = [[h["epoch"], _f(h.get("train_loss")), _f(h.get("eval_loss")), _f(h.get("accuracy")),
             _f(h.get("precision")), _f(h.get("recall")), _f(h.get("f1")),
             _f(h.get("train_seconds"), 1)] for h in history]
    return _table(rows, ["epoch", "train loss", "eval loss", "accuracy", "precision",
                         "recall", "F1", "train s"])


def test_table(s: dict) -> str:
    return _table([[_f(s["precision"]), _f(s["recall"]), _f(s["f1"]), _f(s["macro_f1"]),
                    _f(s["accuracy"]), s["support"], s["sentences"], s["tokens"]]],
                  ["precision", "recall", "F1 (micro)", "F1 (macro)", "token accuracy",
                   "gold entities", "sentences", "tokens"])


def per_type_table(s: dict) -> str:
    rows = [[t, _f(v["precision"]), _f(v["recall"]), _f(v["f1"]), v["support"]]
            for t, v in s["per_type"].items()]
    return _table(rows, ["type", "precision", "recall", "F1", "support"])


def latency_table(lat: list[dict], runtime: dict) -> str:
    base = next((m["sentences_per_s"] for m in lat if m["batch_size"] == 1), None)
    generative = any("generated_tokens_per_s" in m for m in lat)
    rows = []
    for m in lat:
        lo, hi = m["sentences_per_s_ci95"]
        row = [m["batch_size"], runtime.get("device", "?"), runtime.get("dtype", "–"),
               runtime.get("threads", "–"), f"{m['sentences_per_s']:.1f} [{lo:.1f}, {hi:.1f}]",
               f"{m['sentences_per_s'] / base:.2f}x" if base else "–", f"{m['words_per_s']:.0f}"]
        if generative:
            row.append(_f(m.get("generated_tokens_per_s"), 1))
        row += [_f(m["ms_per_sentence_mean"], 2), _f(m["ms_per_sentence_p50"], 2),
                _f(m["ms_per_sentence_p95"], 2), f"{m['timed_batches']} (+{m['warmup_batches']})",
                f"{m['peak_rss_mb']:.0f}"]
        rows.append(row)
    headers = ["batch", "device", "dtype", "threads", "sentences/s [95% CI]", "vs batch 1",
               "words/s"] + (["generated tokens/s"] if generative else []) + [
        "mean ms/sent", "p50 ms/sent", "p95 ms/sent", "timed (+warm-up) batches", "peak RSS MiB"]
    return _table(rows, headers)


def generation_table(stats: dict) -> str:
    return _table([[stats.get("sentences", 0), stats.get("malformed_items", 0),
                    stats.get("hallucinated_entities", 0), stats.get("sentences_with_problems", 0),
                    stats.get("generated_tokens", 0)]],
                  ["sentences", "malformed items", "hallucinated entities",
                   "sentences with a problem", "generated tokens"])


def summary_table(results: dict[str, dict]) -> str:
    rows = []
    for name, r in results.items():
        s, cfg = r["test"], r["spec"]["system_config"]
        best = max(r["latency"], key=lambda m: m["sentences_per_s"]) if r["latency"] else None
        epochs = [h.get("train_seconds") for h in r["history"] if h.get("train_seconds")]
        rows.append([name, cfg.get("model", "–"), r["spec"]["profile"],
                     r["data"]["sentences"]["train"], len(r["history"]),
                     _f(s["precision"]), _f(s["recall"]), _f(s["f1"]), _f(s["macro_f1"]),
                     f"{best['sentences_per_s']:.1f} (bs {best['batch_size']})" if best else "–",
                     _f(sum(epochs) / len(epochs), 0) if epochs else "–"])
    return _table(rows, ["system", "model", "profile", "train sentences", "epochs", "P", "R",
                         "F1", "macro F1", "best sentences/s", "train s/epoch"])


def _kv_table(d: dict) -> str:
    return _table([[k, f"`{v}`"] for k, v in d.items()], ["key", "value"])


def system_section(name: str, r: dict) -> str:
    spec, env = r["spec"], r["spec"].get("environment", {})
    hw = env.get("hardware", {})
    parts = [
        f"## {name}",
        f"{r.get('description', '')}",
        f"Run `{spec['digest']}` · command: `{r.get('command') or 'n/a'}`",
        "### Per-epoch training and validation", epoch_table(r["history"]),
        "### Test (entity level, seqeval strict IOB2)", test_table(r["test"]),
        "### Per type (test)", per_type_table(r["test"]),
    ]
    if r.get("prediction_stats"):
        parts += ["### Generated answers (test)",
                  "Malformed: an item that cannot be read or has a type outside the scheme. "
                  "Hallucinated: an entity whose words are not in the sentence (dropped).",
                  generation_table(r["prediction_stats"])]
    parts += [
        "### Inference latency (test sentences)", latency_table(r["latency"], r["runtime"]),
    ]
    if r.get("notes"):
        parts += ["### Notes", "\n".join(f"- {n}" for n in r["notes"])]
    parts += [
        "### Configuration", _kv_table(spec["system_config"]),
        "### Provenance",
        _kv_table({
            "seed": spec["seed"],
            "train / validation / test sentences": " / ".join(
                str(r["data"]["sentences"][k]) for k in ("train", "validation", "test")),
            "train limit / eval limit": f"{spec['train_limit']} / {spec['eval_limit']}",
            "data": r["data"]["source"],
            "data sha256": r["data"]["fingerprint"],
            "test sentences also in train": r["data"]["test_in_train"],
            "git commit": env.get("git_commit"),
            "created": env.get("created"),
            "hardware": f"{hw.get('cpu')} ({hw.get('cpu_count')} CPUs, {hw.get('memory_gib')} GiB), "
                        f"GPU: {hw.get('gpu') or 'none'}",
            "python": hw.get("python"),
            **{f"version {k}": v for k, v in env.get("packages", {}).items()},
        }),
    ]
    return "\n\n".join(parts)


def render_markdown(bench: Benchmark, results: dict[str, dict], skipped: dict[str, str]) -> str:
    parts = [
        f"# Benchmark {bench.name}: {bench.title}",
        "Written by `python -m harness run`; do not edit by hand. Scores are entity-level "
        "(seqeval, `mode=\"strict\"`, IOB2) on the test split; per-epoch rows are on the "
        f"validation split. Entity types: {', '.join(bench.scheme.types)}.",
        "## Summary (test split)",
        summary_table(results) if results else "_No finished runs yet._",
    ]
    if skipped:
        parts += ["Skipped in the last run: " + "; ".join(
            f"`{n}` ({why})" for n, why in skipped.items())]
    parts += [system_section(name, r) for name, r in results.items()]
    return "\n\n".join(parts) + "\n"


def write_benchmark_report(reports_dir: Path, bench: Benchmark,
                           skipped: dict[str, str] | None = None) -> Path:
    results = load_results(reports_dir, bench.name)
    md_path = Path(reports_dir) / f"{bench.name}.md"
    write_text_atomic(md_path, render_markdown(bench, results, skipped or {}))
    write_json_atomic(Path(reports_dir) / f"{bench.name}.json", {
        "benchmark": bench.name,
        "scheme": {"types": list(bench.scheme.types), "labels": list(bench.scheme.labels)},
        "systems": results,
    })
    return md_path
