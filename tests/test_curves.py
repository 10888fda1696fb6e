"""Learning curves: nested deterministic subsets, ordinary reusable runs, and
the report's curve and cost sections."""
import json
from pathlib import Path

import pytest
from hypothesis import given
from hypothesis import strategies as st

from conftest import TINY, make_hub_folder
from harness.core import ConfigError, register_system, unregister_system
from harness.run.curves import parse_sizes, run_curve
from harness.data.corpus import subsample_indices
from harness.data.benchmarks import BENCHMARKS
from harness.run.runner import RunOptions, overrides_for
from tests_support.readme_examples import ensure_registered


@given(n=st.integers(1, 400), sizes=st.lists(st.integers(1, 500), min_size=2, max_size=5),
       seed=st.integers(0, 2**31))
def test_subsets_are_nested_and_deterministic(n, sizes, seed):
    subsets = [set(subsample_indices(n, k, seed)) for k in sorted(sizes)]
    for small, large in zip(subsets, subsets[1:]):
        assert small <= large
    assert subsample_indices(n, sizes[0], seed) == subsample_indices(n, sizes[0], seed)
    assert len(subsets[0]) == min(n, sorted(sizes)[0])


def test_parse_sizes():
    assert parse_sizes("all,500, 250,500") == [250, 500, None]
    for bad in ("", "0", "many", "-5"):
        with pytest.raises(ConfigError):
            parse_sizes(bad)


def test_overrides_apply_to_their_system_only():
    overrides = {"epochs": 3, "llm.decoding": "constrained", "bert.learning_rate": 1e-4}
    assert overrides_for("llm", overrides) == {"epochs": 3, "decoding": "constrained"}
    assert overrides_for("spacy-trained", overrides) == {"epochs": 3}


def test_curve_runs_each_size_reuses_finished_points_and_reports(two_lexicons, tmp_path, capsys):
    data = make_hub_folder(tmp_path / "data", TINY * 3)   # 9 English sentences a split
    opts = RunOptions(systems=two_lexicons, benchmarks=[BENCHMARKS["B"]], data=str(data),
                      reports_dir=tmp_path / "reports", runs_dir=tmp_path / "runs",
                      latency_batches=2, overrides={"lexicon-cased.lowercase": False})
    first = run_curve(opts, parse_sizes("2,4,all"))
    assert [(r.system, r.train_sentences) for r in first] == [
        ("lexicon", 2), ("lexicon-cased", 2), ("lexicon", 4), ("lexicon-cased", 4),
        ("lexicon", 9), ("lexicon-cased", 9)]
    assert all(r.spec["system_config"]["lowercase"] is (r.system == "lexicon") for r in first)
    assert "reusing" not in capsys.readouterr().err
    again = run_curve(opts, parse_sizes("2,4,all"))
    assert capsys.readouterr().err.count("reusing finished results") == 6
    assert [r.test for r in again] == [r.test for r in first]

    report = (tmp_path / "reports" / "B.md").read_text()
    assert "## Learning curve (test F1 against training sentences)" in report
    assert "plots/B-curve.png" in report and (tmp_path / "reports/plots/B-curve.png").is_file()
    assert "### Learning curve at 4 training sentences" in report   # its group in the findings
    assert report.index("## Findings") < report.index("## Summary (test split)")
    saved = json.loads((tmp_path / "reports" / "B.json").read_text())
    assert set(saved["curve"]["lexicon"]) == {"2", "4", "9"}


def test_a_labelled_curve_keeps_its_own_points(two_lexicons, tmp_path):
    """Two configurations of one system (two encoders, say) each keep their
    curve: a labelled curve is published under its label."""
    data = make_hub_folder(tmp_path / "data", TINY * 3)
    common = dict(benchmarks=[BENCHMARKS["B"]], data=str(data), reports_dir=tmp_path / "reports",
                  runs_dir=tmp_path / "runs", latency_batches=2)
    run_curve(RunOptions(systems=["lexicon"], **common), parse_sizes("2,4"))
    run_curve(RunOptions(systems=["lexicon"], label="lexicon-cased-run",
                         overrides={"lowercase": False}, **common), parse_sizes("2,4"))
    curve = tmp_path / "reports/results/B/curve"
    assert sorted(p.name for p in curve.iterdir()) == ["lexicon", "lexicon-cased-run"]
    points = {d.name: json.loads((d / "4.json").read_text()) for d in curve.iterdir()}
    assert points["lexicon"]["spec"]["system_config"]["lowercase"] is True
    assert points["lexicon-cased-run"]["spec"]["system_config"]["lowercase"] is False
    assert "lexicon-cased-run F1" in (tmp_path / "reports/B.md").read_text()
    with pytest.raises(ConfigError, match="one system"):
        run_curve(RunOptions(systems=two_lexicons, label="x", **common), parse_sizes("2"))


def test_cost_section_flags_systems_trained_on_different_sentences(two_lexicons, tmp_path):
    from harness.run.runner import run

    data = make_hub_folder(tmp_path / "data", TINY * 3)
    common = dict(benchmarks=[BENCHMARKS["B"]], data=str(data), reports_dir=tmp_path / "r",
                  runs_dir=tmp_path / "runs", latency_batches=2)
    run(RunOptions(systems=["lexicon"], limit=4, **common))
    run(RunOptions(systems=["lexicon-cased"], **common))
    report = (tmp_path / "r" / "B.md").read_text()
    assert "## Cost against quality" in report
    assert "**Not like for like:**" in report and "lexicon: 4 sentences" in report
    # Pairs that saw different training sentences leave the Markdown for the JSON.
    assert "**no** (9 vs 4)" not in report
    pairs = json.loads((tmp_path / "r" / "B.json").read_text())["pairs"]
    assert [(p["same_training"], p["training"]) for p in pairs] == [(False, "**no** (9 vs 4)")]
    assert (tmp_path / "r" / "plots" / "B-cost-speed.png").is_file()
    run(RunOptions(systems=["lexicon"], **common))
    report = (tmp_path / "r" / "B.md").read_text()
    assert ("Like for like: every trained system (lexicon-cased, lexicon) saw the same 9 "
            "training sentences.") in report


def test_prediction_settings_reuse_the_trained_model_under_a_label(tmp_path, capsys):
    """Two runs that differ only in an inference field (a decoder, a batch
    size) share one trained model, and a label keeps both in the report."""
    import dataclasses

    from harness.core import inference_field
    from harness.run.runner import run

    lexicon = ensure_registered()

    @dataclasses.dataclass
    class Config(lexicon.Config):
        predict_batch: int = inference_field(8)

    register_system("lexicon-batched")(type("Batched", (lexicon,), {"Config": Config}))
    try:
        data = make_hub_folder(tmp_path / "data", TINY * 3)
        common = dict(systems=["lexicon-batched"], benchmarks=[BENCHMARKS["B"]], data=str(data),
                      reports_dir=tmp_path / "r", runs_dir=tmp_path / "runs", latency_batches=2)
        first = run(RunOptions(**common))[0]
        capsys.readouterr()
        second = run(RunOptions(**common, overrides={"predict_batch": 2}, label="batched-2"))[0]
        err = capsys.readouterr().err
        # --latency-only finds the model where the run found it, with the run's settings.
        retimed = run(RunOptions(**(common | {"latency_batches": 3}), overrides={"predict_batch": 2},
                                 label="batched-2", latency_only=True))[0]
        assert retimed.latency[0]["timed_batches"] == 3 and retimed.test == second.test
        assert f"saved model in {first.run_dir}/model" in capsys.readouterr().err
    finally:
        unregister_system("lexicon-batched")
        unregister_system("lexicon")
    assert first.run_dir != second.run_dir
    assert first.spec["training_digest"] == second.spec["training_digest"]
    assert "training on" not in err and f"reusing the trained model in {first.run_dir}" in err
    assert any(f"trained model and per-epoch history of run {Path(first.run_dir).name}" in n
               for n in second.notes)
    report = (tmp_path / "r" / "B.md").read_text()
    assert "## lexicon-batched" in report and "## batched-2" in report
    with pytest.raises(ConfigError, match="one system"):
        run(RunOptions(**(common | {"systems": ["a", "b"]}), label="x"))


@pytest.mark.parametrize("executor", ["slurm", "ray"])
def test_latency_only_is_refused_on_a_cluster_executor(executor, tmp_path, capsys):
    """The cluster executors skip finished points, and --latency-only times a
    saved model on this machine: together they would time nothing."""
    from harness.cli import main

    ensure_registered()
    data = make_hub_folder(tmp_path / "data", TINY)
    try:
        code = main(["run", "--systems", "lexicon", "--benchmark", "B", "--data", str(data),
                     "--latency-only", "--executor", executor, "--runs", str(tmp_path / "runs"),
                     "--reports", str(tmp_path / "r")])
    finally:
        unregister_system("lexicon")
    assert code == 2
    assert f"--latency-only times a saved model on this machine: run it with --executor " \
           f"local, not {executor}" in capsys.readouterr().err
