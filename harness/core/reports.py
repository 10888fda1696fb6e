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

from . import contenders, evaluation, plots
from .definitions import Benchmark
from .fileio import write_json_atomic, write_text_atomic
from .published import load_curve, load_results
from .registry import find_system
from .results import RunResult
from .system import ReportSection


def _f(x, digits: int = 4) -> str:
    if x is None:
        return "–"
    if isinstance(x, float):
        return f"{x:.{digits}f}"
    return str(x)


def _percent(x: float | None) -> str:
    return "–" if x is None else f"{100 * x:.0f}%"


def _table(rows, headers) -> str:
    return tabulate(rows, headers=headers, tablefmt="github", disable_numparse=True)


def _rate(n: int | None, seconds: float | None) -> str:
    return f"{n / seconds:.1f}" if n and seconds else "–"


def epoch_table(history: list[dict], train_sentences: int | None = None) -> str:
    rows = [[h["epoch"], _f(h.get("train_loss")), _f(h.get("eval_loss")), _f(h.get("accuracy")),
             _f(h.get("precision")), _f(h.get("recall")), _f(h.get("f1")),
             _f(h.get("train_seconds"), 1), _rate(train_sentences, h.get("train_seconds"))]
            for h in history]
    return _table(rows, ["epoch", "train loss", "eval loss", "accuracy", "precision",
                         "recall", "F1", "train s", "train sentences/s"])


def _ci(r: RunResult) -> str:
    b = r.test_f1_bootstrap
    return f"[{b['ci95'][0]:.4f}, {b['ci95'][1]:.4f}]" if b else "–"


def test_table(r: RunResult) -> str:
    s = r.test
    return _table([[_f(s["precision"]), _f(s["recall"]), _f(s["f1"]), _ci(r), _f(s["macro_f1"]),
                    _f(s["accuracy"]), s["support"], s["sentences"], s["tokens"]]],
                  ["precision", "recall", "F1 (micro)", "F1 95% CI", "F1 (macro)",
                   "token accuracy", "gold entities", "sentences", "tokens"])


def taxonomy_table(taxonomy: dict) -> str:
    return _table([[taxonomy[k] for k in evaluation.TAXONOMY]],
                  [k.replace("_", " ") for k in evaluation.TAXONOMY])


def word_tag_table(r: RunResult) -> str:
    w, s = r.word_tag, r.test
    return _table([["seqeval, entity level, micro (the benchmark's metric)",
                    _f(s["precision"]), _f(s["recall"]), _f(s["f1"])],
                   ["word:tag pairs, per sentence, averaged (not seqeval)",
                    _f(w["precision"]), _f(w["recall"]), _f(w["f1"])]],
                  ["metric", "precision", "recall", "F1"])


def confusion_table(conf: dict) -> str:
    labels = conf["labels"]
    rows = [[f"**{g}**"] + [str(v) if v else "·" for v in row]
            for g, row in zip(labels, conf["matrix"])]
    return _table(rows, ["gold \\ predicted"] + labels)


def _paired_row(a: str, ra: RunResult, b: str, rb: RunResult) -> list:
    t = contenders.paired_test(ra, rb)
    same = contenders.same_training(ra, rb)
    if t is None:
        return [a, b, "–", "–", "different test sentences: not compared", same]
    return [a, b, f"{t['delta_f1']:+.4f}", f"{t['p_value']:.4f}",
            "significant at 0.05" if t["p_value"] < 0.05 else "not significant", same]


def comparison_table(results: dict[str, RunResult]) -> str | None:
    """Paired bootstrap between every pair of systems scored on the same test
    sentences, saying whether the two saw the same training sentences."""
    names = [n for n, r in results.items() if r.sentence_counts]
    rows = [_paired_row(a, results[a], b, results[b])
            for i, a in enumerate(names) for b in names[i + 1:]]
    if not rows:
        return None
    return _table(rows, ["first system", "second system", "F1(first) - F1(second)",
                         "p (paired bootstrap, 1000)", "verdict", "same training sentences"])


def curve_section(curve: dict[str, dict[int, RunResult]], figure: str | None) -> list[str]:
    """Test F1 of each system at each training size, and the paired tests at
    the sizes two systems share."""
    if not curve:
        return []
    headers, rows = contenders.curve_rows(curve)
    parts = ["## Learning curve (test F1 against training sentences)",
             "Each point is its own run on a seeded subset of the training split; the subsets "
             "are nested (a smaller one is inside every larger one), and every point is scored "
             "on the same validation and test sentences."]
    if figure:
        parts.append(f"![learning curve]({figure})")
    parts.append(_table(rows, headers))
    pairs = contenders.curve_pair_rows(curve)
    if pairs:
        parts += ["Paired bootstrap at each matched size (1000 resamples):",
                  _table(pairs, ["training sentences", "first system", "second system",
                                 "F1(first) - F1(second)", "p"])]
    return parts


def cost_section(results: dict[str, RunResult], figures: dict[str, str]) -> list[str]:
    parts = ["## Cost against quality", contenders.training_summary(results)]
    machines = contenders.hardware_summary(results)
    if machines:
        parts.append(machines)
    for key, alt in (("cost_speed", "test F1 against inference speed"),
                     ("cost_training", "test F1 against training time")):
        if key in figures:
            parts.append(f"![{alt}]({figures[key]})")
    return parts


def per_type_table(s: dict) -> str:
    rows = [[t, _f(v["precision"]), _f(v["recall"]), _f(v["f1"]), v["support"]]
            for t, v in s["per_type"].items()]
    return _table(rows, ["type", "precision", "recall", "F1", "support"])


def _hardware(hw: dict) -> str:
    return (f"{hw.get('cpu')} ({hw.get('cpu_count')} CPUs, {hw.get('memory_gib')} GiB), "
            f"GPU: {hw.get('gpu') or 'none'}")


def latency_table(lat: list[dict], runtime: dict) -> str:
    base = next((m["sentences_per_s"] for m in lat if m["batch_size"] == 1), None)
    generative = any("generated_tokens_per_s" in m for m in lat)
    counted = any("gflops_per_s" in m for m in lat)
    cuda = any("cuda_max_allocated_mb" in m for m in lat)
    rows = []
    for m in lat:
        lo, hi = m["sentences_per_s_ci95"]
        row = [m["batch_size"], runtime.get("device", "?"), runtime.get("dtype", "–"),
               runtime.get("threads", "–"), f"{m['sentences_per_s']:.1f} [{lo:.1f}, {hi:.1f}]",
               f"{m['sentences_per_s'] / base:.2f}x" if base else "–", f"{m['words_per_s']:.0f}"]
        if generative:
            row.append(_f(m.get("generated_tokens_per_s"), 1))
        if counted:
            row += [_f(m.get("gflops_per_s"), 1), _percent(m.get("share_of_peak"))]
        row += [_f(m["ms_per_sentence_mean"], 2), _f(m["ms_per_sentence_p50"], 2),
                _f(m["ms_per_sentence_p95"], 2), f"{m['timed_batches']} (+{m['warmup_batches']})",
                f"{m['peak_rss_mb']:.0f}"]
        if cuda:
            row.append(_f(m.get("cuda_max_allocated_mb"), 0))
        rows.append(row)
    headers = ["batch", "device", "dtype", "threads", "sentences/s [95% CI]", "vs batch 1",
               "words/s"] + (["generated tokens/s"] if generative else []) + (
        ["GFLOP/s", "share of peak"] if counted else []) + [
        "mean ms/sent", "p50 ms/sent", "p95 ms/sent", "timed (+warm-up) batches",
        "peak RSS MiB"] + (["CUDA max allocated MiB"] if cuda else [])
    table = _table(rows, headers)
    windows = {m.get("peak_memory_window") for m in lat} - {None}
    if windows == {"measurement"}:
        table += "\n\nPeak memory: over the warm-up and timed batches of each row."
    elif windows:
        table += "\n\nPeak RSS: the process's lifetime peak (training included where it trained)."
    peaks = {json.dumps(m["peak"], sort_keys=True): m["peak"] for m in lat if m.get("peak")}
    for top in peaks.values():
        table += (f"\n\nGFLOP/s: the model's matrix products on real tokens "
                  f"(`harness/core/roofline.py`) per second; peak: {top['gflops']:.1f} GFLOP/s "
                  f"{top['precision']} on {top['device']} with {top['threads']} threads "
                  f"({top['method']}), measured in the same process.")
    # How the system ran, beyond the columns: decoding strategy, merged weights, ...
    extra = {k: v for k, v in runtime.items() if k not in ("device", "dtype", "threads", "batch_size")}
    if extra:
        table += "\n\n" + "; ".join(f"{k.replace('_', ' ')}: {v}" for k, v in extra.items())
    return table


def _summary_row(name: str, r: RunResult) -> list:
    s, cfg = r.test, r.spec["system_config"]
    best = max(r.latency, key=lambda m: m["sentences_per_s"]) if r.latency else None
    epochs = [h.get("train_seconds") for h in r.history if h.get("train_seconds")]
    return [name, cfg.get("model", "–"), r.spec["profile"],
            r.train_sentences if r.history else "– (zero-shot)", len(r.history),
            _f(s["precision"]), _f(s["recall"]), _f(s["f1"]), _ci(r), _f(s["macro_f1"]),
            f"{best['sentences_per_s']:.1f} (bs {best['batch_size']})" if best else "–",
            _f(sum(epochs) / len(epochs), 0) if epochs else "–",
            _rate(r.train_sentences * len(epochs), sum(epochs))]


def summary_table(results: dict[str, RunResult]) -> str:
    return _table([_summary_row(name, r) for name, r in results.items()],
                  ["system", "model", "profile", "train sentences", "epochs", "P", "R",
                   "F1", "F1 95% CI", "macro F1", "best sentences/s", "train s/epoch",
                   "train sentences/s"])


def _kv_table(d: dict) -> str:
    return _table([[k, f"`{v}`"] for k, v in d.items()], ["key", "value"])


def system_sections(r: RunResult) -> list[ReportSection]:
    """What the system itself adds (a generative tagger: its answer counters)."""
    cls = find_system(r.system)
    return cls.report_sections(r.prediction_stats) if cls is not None else []


def _section_markdown(section: ReportSection) -> list[str]:
    return [f"### {section.title}"] + ([section.text] if section.text else []) + [
        _table([[_f(v) for v in row] for row in section.rows], section.headers)]


def _test_parts(name: str, r: RunResult, figures: dict[str, str]) -> list[str]:
    parts = ["### Test (entity level, seqeval strict IOB2)", test_table(r),
             "F1 95% CI: percentile bootstrap over test sentences (1000 resamples, seed "
             f"{r.seed}).", "### Per type (test)", per_type_table(r.test)]
    if r.error_taxonomy:
        parts += ["### Error taxonomy (test entities)",
                  "Every gold entity is correct, of incorrect type (same span), partial "
                  "(overlapping span) or missed; every predicted entity that overlaps no gold "
                  "entity is spurious.", taxonomy_table(r.error_taxonomy)]
    if r.word_tag:
        parts += ["### seqeval next to the word:tag metric", word_tag_table(r)]
    if r.confusion:
        parts += ["### Entity-type confusion (test, exact spans)", confusion_table(r.confusion)]
        if "confusion" in figures:
            parts.append(f"![confusion matrix of {name}]({figures['confusion']})")
    return parts


def _latency_parts(r: RunResult) -> list[str]:
    parts = ["### Inference latency (test sentences)", latency_table(r.latency, r.runtime)]
    if r.latency_measured:
        m = r.latency_measured
        parts.append(f"Latency re-measured later with `--latency-only`: {m.get('created', '?')}, "
                     f"git commit `{m.get('git_commit', '?')}`, {_hardware(m.get('hardware', {}))}.")
    return parts


def _provenance(r: RunResult) -> dict:
    spec, env = r.spec, r.spec.get("environment", {})
    hw = env.get("hardware", {})
    return {
        "seed": spec["seed"],
        "train / validation / test sentences": " / ".join(
            str(r.data["sentences"][k]) for k in ("train", "validation", "test")),
        "train limit / eval limit": f"{spec['train_limit']} / {spec['eval_limit']}",
        "data": r.data["source"],
        "data sha256": r.data["fingerprint"],
        "test sentences also in train": r.data["test_in_train"],
        "git commit": env.get("git_commit"),
        "created": env.get("created"),
        "hardware": _hardware(hw),
        "python": hw.get("python"),
        **{f"version {k}": v for k, v in env.get("packages", {}).items()},
    }


def system_section(name: str, r: RunResult, figures: dict[str, str]) -> str:
    parts = [f"## {name}", r.description,
             f"Run `{r.spec['digest']}` · command: `{r.command or 'n/a'}`",
             "### Per-epoch training and validation", epoch_table(r.history, r.train_sentences)]
    if "learning" in figures:
        parts.append(f"![learning curves of {name}]({figures['learning']})")
    parts += _test_parts(name, r, figures)
    for section in system_sections(r):
        parts += _section_markdown(section)
    parts += _latency_parts(r)
    if r.notes:
        parts += ["### Notes", "\n".join(f"- {n}" for n in r.notes)]
    parts += ["### Configuration", _kv_table(r.spec["system_config"]),
              "### Provenance", _kv_table(_provenance(r))]
    return "\n\n".join(parts)


def render_markdown(bench: Benchmark, results: dict[str, RunResult], skipped: dict[str, str],
                    figures: dict | None = None,
                    curve: dict[str, dict[int, RunResult]] | None = None) -> str:
    figures = figures or {}
    parts = [
        f"# Benchmark {bench.name}: {bench.title}",
        "Written by `python -m harness run`; do not edit by hand. Scores are entity-level "
        "(seqeval, `mode=\"strict\"`, IOB2) on the test split; per-epoch rows are on the "
        f"validation split. Entity types: {', '.join(bench.scheme.types)}.",
        *(cost_section(results, figures.get("benchmark", {})) if results else []),
        "## Summary (test split)",
        summary_table(results) if results else "_No finished runs yet._",
    ]
    if skipped:
        parts += ["Skipped in the last run: " + "; ".join(
            f"`{n}` ({why})" for n, why in skipped.items())]
    comparison = comparison_table(results)
    if comparison:
        parts += ["## Pairwise comparison (test F1)", comparison]
    parts += curve_section(curve or {}, figures.get("benchmark", {}).get("curve"))
    parts += [system_section(name, r, figures.get(name, {})) for name, r in results.items()]
    return "\n\n".join(parts) + "\n"


def draw_figures(reports_dir: Path, bench: Benchmark, results: dict[str, RunResult]) -> dict:
    """PNG files per system; returns paths relative to the report."""
    out: dict[str, dict[str, str]] = {}
    for name, r in results.items():
        figs = {}
        rel = Path("plots") / f"{bench.name}-{name}-learning.png"
        if plots.learning_curves(r.history, f"{bench.name} / {name}", Path(reports_dir) / rel):
            figs["learning"] = rel.as_posix()
        rel = Path("plots") / f"{bench.name}-{name}-confusion.png"
        if r.confusion and plots.confusion_matrix(r.confusion, f"{bench.name} / {name}",
                                                  Path(reports_dir) / rel):
            figs["confusion"] = rel.as_posix()
        out[name] = figs
    return out


def _point(x: float | None, r: RunResult) -> tuple:
    lo, hi = r.test_f1_bootstrap["ci95"]
    return x, r.test["f1"], lo, hi


def draw_benchmark_figures(reports_dir: Path, bench: Benchmark, results: dict[str, RunResult],
                           curve: dict[str, dict[int, RunResult]]) -> dict[str, str]:
    """The cost-against-quality plots and the learning curve, as paths relative to the report."""
    charts = {
        "cost_speed": ({n: [_point(max((m["sentences_per_s"] for m in r.latency), default=None), r)]
                        for n, r in results.items()},
                       "inference sentences/s (best batch size, log scale)", False),
        "cost_training": ({n: [_point(sum(h.get("train_seconds") or 0 for h in r.history), r)]
                           for n, r in results.items()},
                          "training seconds (all epochs, log scale; zero-shot systems absent)", False),
        "curve": ({n: [_point(size, r) for size, r in points.items()]
                   for n, points in curve.items()}, "training sentences (log scale)", True),
    }
    out = {}
    for key, (series, xlabel, lines) in charts.items():
        rel = Path("plots") / f"{bench.name}-{key.replace('_', '-')}.png"
        if plots.f1_chart(series, xlabel, f"Benchmark {bench.name}", Path(reports_dir) / rel,
                          lines=lines):
            out[key] = rel.as_posix()
    return out


def write_benchmark_report(reports_dir: Path, bench: Benchmark,
                           skipped: dict[str, str] | None = None) -> Path:
    results = load_results(reports_dir, bench.name)
    curve = load_curve(reports_dir, bench.name)
    md_path = Path(reports_dir) / f"{bench.name}.md"
    figures = draw_figures(reports_dir, bench, results)
    figures["benchmark"] = draw_benchmark_figures(reports_dir, bench, results, curve)
    write_text_atomic(md_path, render_markdown(bench, results, skipped or {}, figures, curve))
    report = {
        "benchmark": bench.name,
        "scheme": {"types": list(bench.scheme.types), "labels": list(bench.scheme.labels)},
        "systems": {name: r.to_dict() for name, r in results.items()},
    }
    if curve:
        report["curve"] = {name: {str(n): r.to_dict() for n, r in points.items()}
                           for name, points in curve.items()}
    write_json_atomic(Path(reports_dir) / f"{bench.name}.json", report)
    return md_path
