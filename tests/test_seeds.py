"""Training seeds as an axis: seed lists, per-seed runs that stay paired, the
seed-aware paired test, Almost Stochastic Order, and reports that say what
their test covers."""
import json
import re
from statistics import NormalDist

import numpy as np
import pytest

from conftest import TINY, make_hub_folder, write_jsonl
from harness.cli import main
from harness.core import ConfigError
from harness.evaluation.aso import aso, violation_ratio
from harness.run.curves import parse_sizes, run_curve
from harness.data.corpus import subsample_indices
from harness.data.benchmarks import BENCHMARKS
from harness.evaluation.analysis import seed_paired_bootstrap
from harness.run.runner import RunOptions, run
from harness.run.runspec import RunSpec
from harness.core.seeds import SEEDS, parse_seeds, seeded_stem, split_stem


def test_seeds_parse_as_a_count_of_the_fixed_list_or_as_seeds():
    assert SEEDS[0] == 42   # the single-seed default: committed runs are the first seed
    assert parse_seeds("3") == (42, 43, 44)
    assert parse_seeds("7,42, 7") == (7, 42)
    assert parse_seeds("5,") == (5,)
    for bad in ("0", "x", "", "1,b", str(len(SEEDS) + 1)):
        with pytest.raises(ConfigError, match="--seeds"):
            parse_seeds(bad)
    assert seeded_stem("bert", 42) == "bert" and seeded_stem("bert", 43) == "bert.seed43"
    assert split_stem("bert.seed43") == "bert" and split_stem("llm-250-free") == "llm-250-free"


def test_subsets_are_nested_within_a_seed_and_redrawn_across_seeds():
    n, sizes = 11193, (250, 500, 1000, 2000)
    by_seed = {s: [set(subsample_indices(n, k, s)) for k in sizes] for s in parse_seeds("3")}
    for subsets in by_seed.values():
        assert all(small < large for small, large in zip(subsets, subsets[1:]))
    firsts = [subsets[0] for subsets in by_seed.values()]
    assert all(len(a & b) < 50 for i, a in enumerate(firsts) for b in firsts[i + 1:])


def test_a_spec_without_an_eval_seed_keeps_its_hash():
    """Single-seed runs, and every run tested on the whole split, hash as before."""
    spec = RunSpec("B", ("PER",), "bert", "offline", {"lr": 1}, "fp", 250, None, 43)
    fields = spec.hashed_fields()
    assert "eval_seed" not in fields and "eval_seed" not in spec.to_dict()
    other = RunSpec("B", ("PER",), "bert", "offline", {"lr": 1}, "fp", 250, 100, 43, eval_seed=42)
    assert other.hashed_fields()["eval_seed"] == 42


def _counts(f1_shift: float, n: int = 400, seed: int = 0) -> np.ndarray:
    """Per-sentence (tp, predicted, gold) counts of a system whose F1 is about 0.6 + shift."""
    rng = np.random.default_rng(seed)
    gold = rng.integers(1, 4, size=n)
    tp = rng.binomial(gold, min(0.95, 0.6 + f1_shift))
    return np.stack([tp, gold, gold], axis=1)


def test_two_level_bootstrap_is_wide_when_seeds_disagree_and_narrow_when_they_agree():
    base = [_counts(0.0, seed=s) for s in range(3)]
    agree = [_counts(0.1, seed=s) for s in range(3)]                # +0.1 in every seed
    disagree = [_counts(d, seed=s) for s, d in enumerate((0.25, -0.15, 0.2))]
    narrow = seed_paired_bootstrap(agree, base, resamples=2000)
    wide = seed_paired_bootstrap(disagree, base, resamples=2000)
    width = lambda t: t["ci95"][1] - t["ci95"][0]
    assert width(wide) > 3 * width(narrow)
    assert narrow["ci95"][0] > 0 and narrow["p_value"] < 0.001
    assert wide["ci95"][0] < 0 < wide["ci95"][1] and wide["p_value"] > 0.05
    assert [d > 0 for d in wide["per_seed_delta"]] == [True, False, True]
    # One seed: the sentence bootstrap alone, as wide as test sampling makes it.
    one = seed_paired_bootstrap(disagree[:1], base[:1], resamples=2000)
    assert width(one) < width(wide) and one["seeds"] == 1


def test_the_seed_paired_test_refuses_unpaired_input():
    with pytest.raises(ValueError, match="same seeds"):
        seed_paired_bootstrap([_counts(0)], [_counts(0), _counts(0)])
    with pytest.raises(ValueError, match="same test sentences"):
        seed_paired_bootstrap([_counts(0, n=10)], [_counts(0, n=11)])


def _normal_quantiles(mean: float, sd: float, n: int = 20000) -> np.ndarray:
    """A sample whose empirical quantile function is N(mean, sd)'s on a fine grid."""
    dist = NormalDist(mean, sd)
    return np.array([dist.inv_cdf((i + 0.5) / n) for i in range(n)])


def test_aso_on_known_cases():
    # Stochastic dominance either way: the violation ratio is 0 or 1, and so is eps_min.
    assert aso([0.9, 0.91, 0.93], [0.8, 0.82, 0.85])["eps_min"] == 0.0
    assert aso([0.8, 0.82, 0.85], [0.9, 0.91, 0.93])["eps_min"] == 1.0
    # Equal quantile functions: no direction.
    assert violation_ratio([0.5, 0.6], [0.5, 0.6]) == 0.5
    # N(0, 1) against N(0, 2): the quantiles cross at the median, the ratio is 1/2.
    assert violation_ratio(_normal_quantiles(0, 1), _normal_quantiles(0, 2)) == pytest.approx(0.5, abs=1e-3)
    # N(1, 1) against N(0, 2): F^-1 - G^-1 = 1 - z, below 0 for z > 1, so the ratio is
    # E[(Z - 1)^2; Z > 1] / E[(Z - 1)^2] = (2 Q(1) - phi(1)) / 2 = 0.03767.
    z = NormalDist()
    exact = (2 * (1 - z.cdf(1)) - z.pdf(1)) / 2
    assert violation_ratio(_normal_quantiles(1, 1), _normal_quantiles(0, 2), grid=20000) == \
        pytest.approx(exact, abs=2e-3)
    # eps_min bounds the ratio from above, more loosely with fewer scores.
    rng = np.random.default_rng(1)
    a, b = rng.normal(0.55, 0.1, 5), rng.normal(0.5, 0.1, 5)
    few, many = aso(a, b), aso(np.repeat(a, 20), np.repeat(b, 20))
    assert few["eps_min"] >= few["violation_ratio"]
    assert many["eps_min"] - many["violation_ratio"] < few["eps_min"] - few["violation_ratio"]


def _opts(tmp_path, systems, **kw):
    data = make_hub_folder(tmp_path / "data", TINY * 3)   # 9 English sentences a split
    return RunOptions(systems=systems, benchmarks=[BENCHMARKS["B"]], data=str(data),
                      reports_dir=tmp_path / "reports", runs_dir=tmp_path / "runs",
                      latency_batches=2, **kw)


def test_curve_with_seeds_runs_each_seed_reuses_finished_points_and_pairs_them(
        two_lexicons, tmp_path, capsys):
    opts = _opts(tmp_path, two_lexicons, seed=42, seeds=(42, 43), eval_limit=5)
    first = run_curve(opts, parse_sizes("2,4"))
    assert [(r.system, r.train_sentences, r.seed) for r in first] == [
        (s, n, seed) for n in (2, 4) for seed in (42, 43) for s in two_lexicons]
    # Each seed tests on the first seed's sentences, so seeds stay paired.
    assert len({r.test_sentences_sha256 for r in first}) == 1
    assert [r.spec.get("eval_seed") for r in first if r.seed == 43] == [42] * 4
    assert capsys.readouterr().err.count("reusing finished results") == 0
    again = run_curve(opts, parse_sizes("2,4"))
    assert capsys.readouterr().err.count("reusing finished results") == 8
    assert [r.test for r in again] == [r.test for r in first]
    curve = tmp_path / "reports/results/B/curve/lexicon"
    assert sorted(p.name for p in curve.iterdir()) == ["2.json", "2.seed43.json", "4.json",
                                                      "4.seed43.json"]
    report = json.loads((tmp_path / "reports" / "B.json").read_text())
    assert report["curve_aggregates"]["lexicon"]["2"]["seeds"] == [42, 43]
    at_2 = next(g for g in report["findings"] if g["title"].endswith("at 2 training sentences"))
    assert at_2["pairs"][0]["common_seeds"] == [42, 43]
    md = (tmp_path / "reports" / "B.md").read_text()
    assert "over training seeds and test sentences together" in md
    assert "covers test sampling only" not in md


def test_a_one_seed_report_says_its_test_covers_test_sampling_only(two_lexicons, tmp_path):
    run(_opts(tmp_path, two_lexicons))
    md = (tmp_path / "reports" / "B.md").read_text()
    findings = md[md.index("## Findings"):md.index("## Summary")]
    assert "with one seed per contender it covers test sampling only" in findings
    assert "One seed: the test covers test sampling only, not training randomness." in findings
    assert "What a seed controls" in findings and "- lexicon:" in findings
    index = (tmp_path / "reports" / "index.md").read_text()
    assert index.index("## Findings") < index.index("## Benchmark B")


def test_seeds_of_run_are_published_apart_and_aggregated(two_lexicons, tmp_path):
    results = run(_opts(tmp_path, ["lexicon"], limit=4, seeds=(42, 43, 44)))
    assert [r.seed for r in results] == [42, 43, 44]
    published = sorted(p.name for p in (tmp_path / "reports/results/B").glob("*.json"))
    assert published == ["lexicon.json", "lexicon.seed43.json", "lexicon.seed44.json"]
    report = json.loads((tmp_path / "reports" / "B.json").read_text())
    agg = report["aggregates"]["lexicon"]
    assert agg["n"] == 3 and agg["f1"] == [r.test["f1"] for r in results]
    assert agg["interval"] == "seeds" and agg["low"] <= agg["mean"] <= agg["high"]
    assert agg["seeds"] == [42, 43, 44] and "seeds" not in report   # full results stay in results/


def test_the_command_line_takes_seed_or_seeds_not_both(capsys):
    from harness.cli import main

    assert main(["run", "--systems", "bert", "--seed", "1", "--seeds", "3"]) == 2
    assert "give --seed (one seed) or --seeds (several), not both" in capsys.readouterr().err
    assert main(["curve", "--systems", "bert", "--seeds", "0"]) == 2
    assert "--seeds: a count is 1 to 10" in capsys.readouterr().err


def test_reports_split_the_headline_from_variants_and_compare_types(two_lexicons, tmp_path):
    """One main contender per system; variants labelled by what differs; the
    per-type table marks a type a contender never predicts."""
    run(_opts(tmp_path, ["lexicon"]))
    run(_opts(tmp_path, ["lexicon"], limit=2, label="lexicon-2"))
    md = (tmp_path / "reports" / "B.md").read_text()
    summary = md[md.index("## Summary"):md.index("### Variants and ablations")]
    variants = md[md.index("### Variants and ablations"):md.index("## Per type")]
    assert "| lexicon " in summary and "lexicon-2" not in summary
    assert "lexicon: 2 training sentences" in variants
    # Each variant is tested against its main contender, over the test sentences both saw.
    header, _, row = [line for line in variants.splitlines() if line.startswith("|")][:3]
    cells = dict(zip([c.strip() for c in header.split("|")], [c.strip() for c in row.split("|")]))
    assert re.fullmatch(r"[+-]\d\.\d{4} \[[+-]\d\.\d{4}, [+-]\d\.\d{4}\]",
                        cells["ΔF1 vs main [95% CI]"])
    assert cells["p (seeds shared)"].endswith("(1 seed)")
    per_type = md[md.index("## Per type"):]
    assert "| macro F1 [95% CI] |" in per_type
    result = json.loads((tmp_path / "reports/results/B/lexicon.json").read_text())
    lo, hi = result["macro_f1_bootstrap"]["ci95"]
    assert lo <= result["test"]["macro_f1"] <= hi


def test_the_per_type_table_gives_macro_f1_an_interval_over_seeds():
    """Several seeds that differ: the macro F1 interval is over seeds, as the
    micro F1's; one run: the test sentences' bootstrap interval."""
    from types import SimpleNamespace

    from harness.evaluation.aggregates import mean_interval
    from harness.reporting.per_type import _macro_cell

    def run_(macro, boot=None):
        return SimpleNamespace(test={"macro_f1": macro}, macro_f1_bootstrap=boot, seed=42)

    low, high = mean_interval([0.40, 0.50, 0.45])
    seeds = {42: run_(0.40), 43: run_(0.50), 44: run_(0.45)}
    assert _macro_cell(seeds) == f"0.450 [{low:.3f}, {high:.3f}] (seeds)"
    assert _macro_cell({42: run_(0.45, {"ci95": [0.41, 0.49]})}) == "0.450 [0.410, 0.490] (sentences)"
    assert "no interval" in _macro_cell({42: run_(0.45)})


def test_type_counts_keep_each_types_per_sentence_counts_sparsely():
    from harness.evaluation.analysis import dense_type_counts, type_counts, type_sentence_counts

    gold = [["B-PER", "O", "B-LOC"], ["O", "O"], ["B-LOC", "I-LOC"]]
    pred = [["B-PER", "O", "B-ORG"], ["B-PER", "O"], ["B-LOC", "I-LOC"]]
    types, dense = type_sentence_counts(gold, pred)
    sparse = type_counts(gold, pred)
    assert sorted(sparse) == types == ["LOC", "ORG", "PER"]
    assert sparse["PER"] == "0 1 1 1;1 0 1 0"
    for i, etype in enumerate(types):
        assert (dense_type_counts(sparse[etype], 3) == dense[i].T).all()


def test_holm_adjusts_a_family_of_p_values():
    from harness.evaluation.analysis import holm

    assert holm([0.01, 0.04, 0.03]) == pytest.approx([0.03, 0.06, 0.06])
    assert holm([0.5, 0.9]) == pytest.approx([1.0, 1.0])
    assert holm([]) == []


def test_the_report_tests_each_types_difference_between_main_contenders(two_lexicons, tmp_path):
    """The cased lexicon misses every lower-cased 'london' of the test split:
    LOC differs and holds after Holm's adjustment; PER, tagged alike, is not a
    difference."""

    cased = TINY[0]   # Ada Lovelace (PER) lived in London (LOC)
    lower = {"tokens": ["we", "saw", "london", "."], "ner_tags": [0, 0, 5, 0], "lang": "en"}
    data = tmp_path / "data"
    write_jsonl(data / "train" / "train_en.jsonl", [cased] * 3)
    write_jsonl(data / "val" / "val_en.jsonl", [cased] * 3)
    write_jsonl(data / "test" / "test_en.jsonl", [cased] * 40 + [lower] * 40)
    assert main(["run", "--systems", ",".join(two_lexicons), "--benchmark", "B",
                 "--data", str(data), "--set", "lexicon-cased.lowercase=false",
                 "--latency-batches", "1", "--reports", str(tmp_path / "r"),
                 "--runs", str(tmp_path / "runs")]) == 0
    report = json.loads((tmp_path / "r" / "B.json").read_text())
    per, loc = report["type_differences"]["tests"]   # in the scheme's order of types
    assert report["type_differences"]["untested"] == []
    assert (per["type"], per["delta_f1"], per["p_holm"]) == ("PER", 0.0, 1.0)
    assert (loc["first"], loc["second"], loc["type"], loc["support"]) == (
        "lexicon", "lexicon-cased", "LOC", 80)
    assert loc["delta_f1"] == pytest.approx(1 - 2 * 40 / (40 + 80))
    # No resample crosses zero (p 0), yet Holm over two types starts from the
    # smallest p that 2000 resamples can show, 2/2001.
    assert loc["p_value"] == 0.0 and loc["p_holm"] == pytest.approx(2 * 2 / 2001)
    md = (tmp_path / "r" / "B.md").read_text()
    section = md[md.index("### Per-type differences"):]
    assert "lexicon vs lexicon-cased: 1 of 2" in section
    assert re.search(r"\| lexicon \| lexicon-cased \| LOC +\| 80 +\| \+0\.333 "
                     r"\[\+0\.\d{3}, \+0\.\d{3}\] \| < 0\.001 \| 0\.002 +\| 42 ", section)
