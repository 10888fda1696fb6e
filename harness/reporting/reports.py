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

from harness.evaluation import contenders
from harness.evaluation import analysis
from harness.measure import contention
from harness.reporting import findings
from harness.reporting import headline
from harness.reporting import per_type
from harness.reporting import plots
from harness.evaluation.aggregates import aggregate
from harness.data.benchmarks import Benchmark
from harness.core.fileio import write_json_atomic, write_text_atomic
from harness.reporting.published import Seeded, load_curve_seeded, load_seeded, representative
from harness.core.registry import find_system
from harness.evaluation.results import RunResult
from harness.core.seeds import DEFAULT_SEED
from harness.core.system import ReportSection
from harness.reporting.templating import render


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
             _f(h.get("train_seconds"), 1), _rate(train_sentences, h.get("train_seconds")),
             _f(h.get("eval_seconds"), 1)]
            for h in history]
    return _table(rows, ["epoch", "train loss", "eval loss", "accuracy", "precision",
                         "recall", "F1", "train s", "train sentences/s", "validation s"])


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
    return _table([[taxonomy[k] for k in analysis.TAXONOMY]],
                  [k.replace("_", " ") for k in analysis.TAXONOMY])


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


def comparable(a: RunResult, b: RunResult) -> bool:
    """Saw the same training sentences (seed by seed), or neither trained."""
    return contenders.training_group(a) == contenders.training_group(b)


def all_pairs(seeded: dict[str, Seeded]) -> list[dict]:
    """The seed-aware test between every two contenders tested on the same
    sentences, saying whether they saw the same training sentences (the JSON
    report keeps them all; the Markdown only the comparable ones)."""
    names, out = list(seeded), []
    for i, a in enumerate(names):
        for b in names[i + 1:]:
            t = contenders.seed_paired_test(seeded[a], seeded[b])
            if t is not None:
                ra, rb = representative(seeded[a]), representative(seeded[b])
                out.append({"first": a, "second": b, **t,
                            "same_training": comparable(ra, rb),
                            "training": contenders.same_training(ra, rb)})
    return out


def comparison_table(pairs: list[dict]) -> str | None:
    """The seed-aware paired test between every two contenders that saw the
    same training sentences."""
    rows = [[p["first"], p["second"], f"{p['delta_f1']:+.4f}",
             f"[{p['ci95'][0]:+.4f}, {p['ci95'][1]:+.4f}]", findings.format_p(p["p_value"]),
             len(p["common_seeds"]), findings.Pair(p["first"], p["second"], p).agreement,
             "significant at 0.05" if p["p_value"] < findings.ALPHA else "not significant"]
            for p in pairs if p["same_training"]]
    if not rows:
        return None
    return _table(rows, ["first", "second", "ΔF1 (mean over seeds)", "95% CI", "p", "seeds",
                         "seeds agreeing", "verdict"])


def _aggregate_cell(seeded: Seeded | None) -> str:
    if not seeded:
        return "–"
    agg = aggregate(seeded)
    spread = f" ± {agg.sd:.4f}" if agg.sd is not None else ""
    return f"{agg.mean:.4f}{spread} [{agg.low:.4f}, {agg.high:.4f}] ({agg.n})"


def curve_section(curve: dict[str, dict[int, Seeded]], figure: str | None) -> list[str]:
    """Mean test F1 of each system at each training size, over its seeds."""
    if not curve:
        return []
    systems = list(curve)
    rows = [[f"{n:,}"] + [_aggregate_cell(curve[name].get(n)) for name in systems]
            for n in sorted({n for points in curve.values() for n in points})]
    parts = ["## Learning curve (test F1 against training sentences)",
             "Each point is its own run on a seeded subset of the training split: within a "
             "seed the subsets are nested (a smaller one is inside every larger one), and each "
             "seed draws its own. Every point is scored on the same validation and test "
             "sentences. A cell is the mean F1 ± its sd over seeds, a 95% interval (over seeds "
             "with two or more, else over test sentences) and the number of seeds; the plot "
             "draws the mean with that interval as a band. The seed-aware tests at each size "
             "are in the findings."]
    if figure:
        parts.append(f"![learning curve]({figure})")
    parts.append(_table(rows, ["training sentences"] + [f"{s} F1" for s in systems]))
    return parts


def cost_section(results: dict[str, RunResult], figures: dict[str, str]) -> list[str]:
    parts = ["## Cost against quality", contenders.training_summary(results)]
    for note in (contenders.hardware_summary(results),
                 findings.training_conditions_summary(results)):
        if note:
            parts.append(note)
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


def trained_line(training: dict) -> str:
    """When, from which commit, with how many threads, and beside what the
    model was trained: training seconds are the system's own only when alone."""
    env, seen = training.get("environment", {}), training.get("contention", {})
    hw = env.get("hardware", {})
    threads = contention.training_threads(training)
    threaded = f", {threads} torch thread{'s' if threads != 1 else ''}" if threads else ""
    line = (f"{training.get('started', '?')} to {env.get('created', '?')}, git commit "
            f"`{env.get('git_commit', '?')}`{threaded} on {_hardware(hw)}; ")
    n, every = seen.get("samples", 0), f"one every {seen.get('interval_s', 30)} s"
    beside = seen.get("samples_beside", round(seen.get("beside_share", 0.0) * n))
    cores = contention.cores_used(seen)
    others = (f"other harness processes in {beside} of {n} samples ({every}), "
              + (f"using {cores}" if cores else "their CPU use not measured"))
    beside_busy = contention.trained_beside(training)
    if contention.training_unwatched(training):
        line += (f"**not known what shared the machine**: the watch read {n} of its samples "
                 f"({seen.get('sampling_errors', 0)} failed), too few to measure others' CPU use")
    elif beside_busy and cores is None:
        line += f"**trained beside other harness processes**: {others}"
    elif beside_busy:
        line += f"**trained beside busy harness processes**: {others}; its training seconds " \
                "are above its own"
    elif seen.get("other_harness_processes"):
        line += f"alone in effect: {others}"
    else:
        line += f"alone: no other harness process in {n} samples ({every})"
    if seen.get("stalled_seconds"):
        line += (f"; **stopped or starved for {seen['stalled_seconds']:.0f} s** (samples "
                 f"late by more than an interval), which its training seconds include")
    if training.get("resumed_from_checkpoint"):
        line += "; resumed from a checkpoint: this covers the epochs trained by the last process"
    return line + "."


def timing_conditions(lat: list[dict]) -> str:
    """Flags for the rows whose speeds are below the system's own: timed
    beside busy harness processes, or while the timing process was stopped."""
    text = ""
    busy = [m for m in lat if contention.shared(m)]
    if busy:
        pids = sorted({pid for m in busy for pid in m["contention"].get("other_harness_processes", [])})
        used = [f"batch {m['batch_size']}: {cores}" for m in busy
                if (cores := contention.cores_used(m["contention"]))]
        text += (f"\n\n**Measured beside busy harness processes** ({len(pids)} seen, pids "
                 f"{', '.join(map(str, pids))}) sharing this machine's cores"
                 + (f" ({'; '.join(used)})" if used else "")
                 + ": these speeds are below the system's own.")
    unwatched = [m for m in lat if contention.unwatched(m.get("contention"))]
    if unwatched:
        text += ("\n\n**Not known what shared the machine** while batch "
                 + ", ".join(str(m["batch_size"]) for m in unwatched)
                 + " was timed: the watch read too few samples to measure others' CPU use.")
    stopped = [m for m in lat if contention.stalled(m)]
    if stopped:
        text += ("\n\n**The timing process was stopped or starved** (" + "; ".join(
            f"batch {m['batch_size']}: {contention.stalled(m):.0f} s" for m in stopped)
                 + "), which those rows' seconds include: their speeds are below the system's own.")
    return text


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
    table = _table(rows, headers) + timing_conditions(lat)
    windows = {m.get("peak_memory_window") for m in lat} - {None}
    if windows == {"measurement"}:
        table += "\n\nPeak memory: over the warm-up and timed batches of each row."
    elif windows:
        table += "\n\nPeak RSS: the process's lifetime peak (training included where it trained)."
    peaks = {json.dumps(m["peak"], sort_keys=True): m["peak"] for m in lat if m.get("peak")}
    for top in peaks.values():
        table += (f"\n\nGFLOP/s: the model's matrix products on real tokens "
                  f"(`harness/measure/roofline.py`) per second; peak: {top['gflops']:.1f} GFLOP/s "
                  f"{top['precision']} on {top['device']} with {top['threads']} threads "
                  f"({top['method']}), measured in the same process.")
    # How the system ran, beyond the columns: decoding strategy, merged weights, ...
    extra = {k: v for k, v in runtime.items() if k not in ("device", "dtype", "threads", "batch_size")}
    if extra:
        table += "\n\n" + "; ".join(f"{k.replace('_', ' ')}: {v}" for k, v in extra.items())
    return table


def _as_seeded(value: RunResult | Seeded) -> Seeded:
    return {value.seed: value} if isinstance(value, RunResult) else value


def family_order(names_to_system: dict[str, str]) -> list[str]:
    """Contender names grouped under their system: each system's own name
    first, then its labelled variants (decoders, backends, sizes, encoders)."""
    return sorted(names_to_system, key=lambda n: (names_to_system[n], n != names_to_system[n], n))


def _mean(seeded: Seeded, key: str) -> float:
    return sum(r.test[key] for r in seeded.values()) / len(seeded)


def _summary_row(name: str, seeded: Seeded) -> list:
    r, agg = representative(seeded), aggregate(seeded)
    cfg = r.spec["system_config"]
    best = max(r.latency, key=lambda m: m["sentences_per_s"]) if r.latency else None
    epochs = [h.get("train_seconds") for h in r.history if h.get("train_seconds")]
    return [r.system, name, cfg.get("model", "–"), r.spec["profile"],
            r.train_sentences if r.history else "– (zero-shot)", len(r.history), agg.n,
            _f(_mean(seeded, "precision")), _f(_mean(seeded, "recall")), _f(agg.mean),
            _f(agg.sd), f"[{agg.low:.4f}, {agg.high:.4f}]", _f(agg.macro_mean),
            f"{best['sentences_per_s']:.1f} (bs {best['batch_size']})" if best else "–",
            _f(sum(epochs) / len(epochs), 0) if epochs else "–",
            _rate(r.train_sentences * len(epochs), sum(epochs))]


def summary_table(results: dict[str, RunResult | Seeded]) -> str:
    """One row per contender, grouped under its system; F1, P and R are means
    over its seeds, the interval is over seeds (two or more) or over test
    sentences (one seed); speeds and epochs are the representative seed's."""
    seeded = {name: _as_seeded(v) for name, v in results.items()}
    order = family_order({n: representative(s).system for n, s in seeded.items()})
    rows, last = [], None
    for name in order:
        row = _summary_row(name, seeded[name])
        row[0], last = ("" if row[0] == last else row[0]), row[0]
        rows.append(row)
    return _table(rows, ["system", "contender", "model", "profile", "train sentences", "epochs",
                         "seeds", "P", "R", "F1", "F1 sd", "F1 95% CI", "macro F1",
                         "best sentences/s", "train s/epoch", "train sentences/s"])


def _against_main(variant: Seeded, main: Seeded) -> list[str]:
    """ΔF1 of a variant against its main contender, its 95% interval and p
    (the seed-aware test over the seeds both have); dashes where they were
    tested on different sentences or share no seed."""
    t = contenders.seed_paired_test(variant, main)
    if t is None:
        return ["–", "–"]
    lo, hi = t["ci95"]
    return [f"{t['delta_f1']:+.4f} [{lo:+.4f}, {hi:+.4f}]",
            f"{findings.format_p(t['p_value'])} ({len(t['common_seeds'])} seed"
            f"{'s' if len(t['common_seeds']) > 1 else ''})"]


def variants_table(variants: dict[str, tuple[Seeded, str, str]],
                   seeded: dict[str, Seeded]) -> str:
    """The summary row of each variant or ablation, labelled by what differs
    from its system's main contender, with the paired test against it."""
    order = family_order({n: representative(v[0]).system for n, v in variants.items()})
    rows = []
    for n in order:
        s, main, what = variants[n]
        row = _summary_row(n, s)   # the contender, then its figures from column 4
        rows.append([row[1], f"{main}: {what}"] + row[4:13] + _against_main(s, seeded[main])
                    + row[13:])
    return _table(rows, ["contender", "differs from (main contender: what)", "train sentences",
                         "epochs", "seeds", "P", "R", "F1", "F1 sd", "F1 95% CI", "macro F1",
                         "ΔF1 vs main [95% CI]", "p (seeds shared)",
                         "best sentences/s", "train s/epoch", "train sentences/s"])


def per_type_section(seeded: dict[str, Seeded], types,
                     type_diffs: dict | None = None) -> list[str]:
    order = family_order({n: representative(s).system for n, s in seeded.items()})
    headers, rows = per_type.comparison_rows(seeded, types, order)
    parts = ["## Per type, every contender side by side (test F1)",
             "Types by gold support, most frequent first; a cell is the type's F1 (the mean "
             f"over seeds), or *{per_type.NEVER}* where the contender predicted no entity of "
             "that type in any seed. Macro F1 averages the types present in gold or "
             "predictions (seqeval's); its 95% interval is over seeds (Student t, as the micro "
             "F1's) where a contender has several that differ, else over resampled test "
             "sentences.", _table(rows, headers)]
    never = per_type.never_predicted(seeded, types)
    if never:
        parts.append("Never predicted: " + "; ".join(
            f"{name}: {', '.join(types_)}" for name, types_ in never.items()) + ".")
    return parts + type_difference_parts(type_diffs or {})


def type_difference_parts(type_diffs: dict) -> list[str]:
    """The per-type differences between main contenders that hold after
    Holm's adjustment, pair by pair, largest first; how many were tested per
    pair, and which pairs could not be."""
    diffs, untested = type_diffs.get("tests", []), type_diffs.get("untested", [])
    if not diffs and not untested:
        return []
    by_pair: dict[tuple, list[dict]] = {}   # in the order the pairs were tested
    for d in diffs:
        by_pair.setdefault((d["first"], d["second"]), []).append(d)
    held = [d for ds in by_pair.values()
            for d in sorted(ds, key=lambda d: -abs(d["delta_f1"])) if d["p_holm"] < findings.ALPHA]
    rows = [[d["first"], d["second"], d["type"], f"{d['support']:,}",
             f"{d['delta_f1']:+.3f} [{d['ci95'][0]:+.3f}, {d['ci95'][1]:+.3f}]",
             findings.format_p(d["p_value"]), findings.format_p(d["p_holm"]),
             ", ".join(map(str, d["common_seeds"]))] for d in held]
    parts = ["### Per-type differences between main contenders that saw the same training "
             "sentences", _type_difference_text(by_pair, untested)]
    if rows:
        parts.append(_table(rows, ["first", "second", "type", "gold", "ΔF1 [95% CI]", "p",
                                   "p (Holm)", "seeds"]))
    return parts


def _type_difference_text(by_pair: dict[tuple, list[dict]], untested: list) -> str:
    counts = "; ".join(f"{a} vs {b}: {sum(d['p_holm'] < findings.ALPHA for d in ds)} of "
                       f"{len(ds)}" for (a, b), ds in by_pair.items())
    text = ("ΔF1 = first − second on one type, over the seeds both have, with the findings' "
            "seed-aware paired bootstrap (seeds and test sentences); the family Holm's method "
            "adjusts p over is one pair's types with gold support (not every pair's), and "
            "the 95% interval is not adjusted.")
    if by_pair:
        text += (f" Types whose difference holds after adjustment, by pair: {counts}; below, "
                 "pair by pair, largest first. The rest are in the JSON report.")
    if untested:
        text += (" Not tested (a run scored before per-type counts were kept and whose run "
                 "folder is gone, or not yet `report --rescore`d): "
                 + "; ".join(f"{a} vs {b}" for a, b in untested) + ".")
    return text


def _kv_table(d: dict) -> str:
    return _table([[k, f"`{v}`"] for k, v in d.items()], ["key", "value"])


def system_sections(r: RunResult) -> list[ReportSection]:
    """What the system itself adds (a generative tagger: its answer counters)."""
    cls = find_system(r.system)
    return cls.report_sections(r.prediction_stats) if cls is not None else []


def _section_markdown(section: ReportSection) -> list[str]:
    return [f"### {section.title}"] + ([section.text] if section.text else []) + [
        _table([[_f(v) for v in row] for row in section.rows], section.headers)]


def _repairs_parts(r: RunResult) -> list[str]:
    """Invalid transitions in the predictions, and F1 under each repair."""
    if not r.repairs:
        return []
    rep = r.repairs
    return [f"Invalid transitions in the predictions (I-X after neither B-X nor I-X): "
            f"{rep['invalid_transitions']:,}. F1 strict IOB2 {r.test['f1']:.4f}; under the "
            f"conlleval repair (a stray I-X opens an entity, as conlleval and seqeval's "
            f"default mode read it) {rep['conlleval']['f1']:.4f}; under the discard repair "
            f"(the strict reading) {rep['discard']['f1']:.4f}."]


def _test_parts(name: str, r: RunResult, figures: dict[str, str]) -> list[str]:
    parts = ["### Test (entity level, seqeval strict IOB2)", test_table(r),
             "F1 95% CI: percentile bootstrap over test sentences (1000 resamples, seed "
             f"{r.seed}).", *_repairs_parts(r), "### Per type (test)", per_type_table(r.test)]
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


def _seeds_line(seeded: Seeded, shown: RunResult) -> str | None:
    if len(seeded) < 2:
        return None
    f1s = ", ".join(f"{seed}: {r.test['f1']:.4f}" for seed, r in seeded.items())
    return (f"Trained with {len(seeded)} seeds; test F1 by seed: {f1s}. The tables below are "
            f"those of seed {shown.seed}.")


def _demoted(markdown: str) -> str:
    """Every heading one level down (a contender's section under its system's)."""
    return "\n".join("#" + line if line.startswith("#") else line for line in markdown.split("\n"))


def system_section(name: str, r: RunResult, figures: dict[str, str],
                   seeded: Seeded | None = None) -> str:
    parts = [f"## {name}", r.description,
             f"Run `{r.spec['digest']}` · seed {r.seed} · command: `{r.command or 'n/a'}`",
             _seeds_line(seeded or {r.seed: r}, r),
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
              "### Provenance", _kv_table(_provenance(r)), "Trained: " + (
                  trained_line(r.training) if r.training else
                  "not trained (zero-shot)." if contenders.training_key(r) is None else
                  "not recorded (trained before training.json was kept).")]
    return "\n\n".join(p for p in parts if p)


def system_sections_by_family(seeded: dict[str, Seeded], figures: dict) -> list[str]:
    """Each system's heading, with each of its contenders (its own run first,
    then labelled variants) one level below."""
    order = family_order({n: representative(s).system for n, s in seeded.items()})
    parts, last = [], None
    for name in order:
        r = representative(seeded[name])
        if r.system != last:
            parts.append(f"## System `{r.system}`")
            last = r.system
        parts.append(_demoted(system_section(name, r, figures.get(name, {}), seeded[name])))
    return parts


def seed_controls(seeded: dict[str, Seeded]) -> dict[str, str]:
    """What the seed controls in each system that has results."""
    out = {}
    for s in seeded.values():
        cls = find_system(representative(s).system)
        if cls is not None:
            out[cls.name] = cls.seed_controls
    return dict(sorted(out.items()))


def findings_markdown(groups: list, seeded: dict[str, Seeded]) -> str:
    max_seeds = max((g.seeds for g in groups), default=1)
    return render("findings.md.j2", groups=groups, max_seeds=max_seeds,
                  resamples=contenders.PAIR_RESAMPLES, first_seed=DEFAULT_SEED,
                  seed_controls=seed_controls(seeded))


def render_markdown(bench: Benchmark, seeded: dict[str, Seeded], skipped: dict[str, str],
                    figures: dict | None = None,
                    curve: dict[str, dict[int, Seeded]] | None = None,
                    findings_md: str | None = None, pairs: list[dict] | None = None,
                    type_diffs: dict | None = None) -> str:
    figures = figures or {}
    results = {name: representative(s) for name, s in seeded.items()}
    parts = [
        f"# Benchmark {bench.name}: {bench.title}",
        "Written by `python -m harness run`; do not edit by hand. Scores are entity-level "
        "(seqeval, `mode=\"strict\"`, IOB2) on the test split; per-epoch rows are on the "
        f"validation split. Entity types: {', '.join(bench.scheme.types)}.",
        findings_md,
        *(cost_section(results, figures.get("benchmark", {})) if results else []),
        "## Summary (test split)",
    ]
    mains, variants = headline.split(seeded)
    if seeded:
        parts += ["The main contender of each system, at its largest training size; variants "
                  "and ablations follow in a table of their own.", summary_table(mains)]
    else:
        parts.append("_No finished runs yet._")
    if variants:
        parts += ["### Variants and ablations",
                  "Each against its system's main contender: ΔF1 = variant − main, with the "
                  "seed-aware paired test over the seeds both have (one seed: test sentences "
                  "only).", variants_table(variants, seeded)]
    if skipped:
        parts += ["Skipped in the last run: " + "; ".join(
            f"`{n}` ({why})" for n, why in skipped.items())]
    comparison = comparison_table(pairs or [])
    if comparison:
        parts += ["## Pairwise comparison (test F1, contenders that saw the same training "
                  "sentences)", "The same seed-aware test as the findings; pairs that saw "
                  "different training sentences are in the JSON report only.", comparison]
    if seeded:
        parts += per_type_section(seeded, bench.scheme.types, type_diffs)
    parts += curve_section(curve or {}, figures.get("benchmark", {}).get("curve"))
    parts += system_sections_by_family(seeded, figures)
    return "\n\n".join(p for p in parts if p) + "\n"


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


def _point(x: float | None, seeded: Seeded) -> tuple:
    agg = aggregate(seeded)
    return x, agg.mean, agg.low, agg.high


def draw_benchmark_figures(reports_dir: Path, bench: Benchmark, seeded: dict[str, Seeded],
                           curve: dict[str, dict[int, Seeded]]) -> dict[str, str]:
    """The cost-against-quality plots and the learning curve (mean F1 over
    seeds, with its interval as a band), as paths relative to the report."""
    costs = {n: findings.cost(representative(s)) for n, s in seeded.items()}
    charts = {
        "cost_speed": ({n: [_point(costs[n][1], s)] for n, s in seeded.items()},
                       "inference sentences/s (best batch size, log scale)", False),
        "cost_training": ({n: [_point(costs[n][0], s)] for n, s in seeded.items()},
                          "training seconds (all epochs, log scale; zero-shot systems absent)", False),
        "curve": ({n: [_point(size, s) for size, s in points.items()]
                   for n, points in curve.items()}, "training sentences (log scale)", True),
    }
    out = {}
    for key, (series, xlabel, lines) in charts.items():
        rel = Path("plots") / f"{bench.name}-{key.replace('_', '-')}.png"
        if plots.f1_chart(series, xlabel, f"Benchmark {bench.name}", Path(reports_dir) / rel,
                          lines=lines):
            out[key] = rel.as_posix()
    return out


def _twin(r: RunResult) -> dict:
    """A result as the JSON twin holds it: without its per-type counts, which
    its own file in results/ keeps (the per-type tests are in the twin)."""
    return {k: v for k, v in r.to_dict().items() if k != "type_counts"}


def benchmark_json(bench: Benchmark, seeded: dict[str, Seeded],
                   curve: dict[str, dict[int, Seeded]], groups: list, pairs: list[dict],
                   type_diffs: dict | None = None) -> dict:
    """The JSON twin: each contender's representative result, its aggregate
    with the per-seed F1s (every seed's full result is in results/), all
    pairs and the findings."""
    report = {
        "benchmark": bench.name,
        "scheme": {"types": list(bench.scheme.types), "labels": list(bench.scheme.labels)},
        "systems": {name: _twin(representative(s)) for name, s in seeded.items()},
        "aggregates": {name: aggregate(s).to_dict() for name, s in seeded.items()},
        "pairs": pairs,
        "type_differences": type_diffs or {"tests": [], "untested": []},
        "findings": [g.to_dict() for g in groups],
    }
    if curve:
        report["curve"] = {name: {str(n): _twin(representative(s)) for n, s in points.items()}
                           for name, points in curve.items()}
        report["curve_aggregates"] = {name: {str(n): aggregate(s).to_dict()
                                             for n, s in points.items()}
                                      for name, points in curve.items()}
    return report


def write_benchmark_report(reports_dir: Path, bench: Benchmark,
                           skipped: dict[str, str] | None = None) -> Path:
    seeded = load_seeded(reports_dir, bench.name)
    curve = load_curve_seeded(reports_dir, bench.name)
    groups = findings.headline_groups(seeded) + findings.curve_groups(curve)
    pairs = all_pairs(seeded)
    mains, _ = headline.split(seeded)
    type_pairs = per_type.tested_pairs(mains)
    tests = per_type.type_differences(seeded, type_pairs, bench.scheme.types)
    type_diffs = {"tests": tests, "untested": per_type.untested(tests, type_pairs)}
    md_path = Path(reports_dir) / f"{bench.name}.md"
    figures = draw_figures(reports_dir, bench, {n: representative(s) for n, s in seeded.items()})
    figures["benchmark"] = draw_benchmark_figures(reports_dir, bench, seeded, curve)
    findings_md = findings_markdown(groups, seeded) if groups else None
    write_text_atomic(md_path, render_markdown(bench, seeded, skipped or {}, figures, curve,
                                               findings_md, pairs, type_diffs))
    write_json_atomic(Path(reports_dir) / f"{bench.name}.json",
                      benchmark_json(bench, seeded, curve, groups, pairs, type_diffs))
    return md_path
