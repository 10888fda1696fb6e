"""A trained model keeps its own provenance (training.json): when, from which
commit, with how many threads, and whether another harness process shared the
machine, so that training seconds measured beside one are flagged."""
import json
import time

import pytest

from conftest import make_hub_folder
from harness.cli import main
from harness.measure.contention import Watch, trained_beside
from tests_support.readme_examples import ensure_registered


@pytest.fixture(autouse=True)
def lexicon_system():
    yield ensure_registered()


def _run(data, tmp_path, *extra):
    return main(["run", "--systems", "lexicon", "--benchmark", "B", "--data", str(data),
                 "--latency-batches", "1", "--reports", str(tmp_path / "r"),
                 "--runs", str(tmp_path / "runs"), *extra])


def _training(tmp_path) -> dict:
    [path] = (tmp_path / "runs").glob("B/lexicon/*/training.json")
    return json.loads(path.read_text())


def test_the_watch_samples_until_the_stage_ends():
    with Watch(interval=0.05) as watch:
        time.sleep(0.4)
    summary = watch.summary()
    assert summary["samples"] >= 4   # start, end, and the ones between
    assert summary["interval_s"] == 0.05
    assert set(summary) >= {"beside_share", "other_harness_processes", "load_1min_mean", "cpus"}


def test_a_run_trained_alone_says_so_and_keeps_its_record_when_republished(tmp_path,
                                                                         monkeypatch):
    from harness.measure import contention

    # Alone whatever else this machine runs (the next test sees a real one).
    monkeypatch.setattr(contention, "other_harness_processes", lambda: [])
    data = make_hub_folder(tmp_path / "d")
    assert _run(data, tmp_path) == 0
    training = _training(tmp_path)
    assert training["contention"]["other_harness_processes"] == []
    assert training["contention"]["samples"] >= 2
    assert training["resumed_from_checkpoint"] is False
    assert training["environment"]["git_commit"]
    report = (tmp_path / "r" / "B.md").read_text()
    assert "alone: no other harness process in" in report
    assert "Training conditions (training seconds are a system's own only when trained alone)" \
           in report

    assert _run(data, tmp_path, "--latency-only") == 0   # re-timed: the training record stays
    published = json.loads((tmp_path / "r" / "B.json").read_text())["systems"]["lexicon"]
    assert published["training"] == training


def test_a_run_trained_beside_another_harness_process_is_flagged(tmp_path,
                                                                 other_harness_process):
    data = make_hub_folder(tmp_path / "d")
    assert _run(data, tmp_path) == 0
    training = _training(tmp_path)
    assert other_harness_process in training["contention"]["other_harness_processes"]
    assert trained_beside(training)
    report = (tmp_path / "r" / "B.md").read_text()
    assert f"**beside another harness process** in" in report
    assert str(other_harness_process) in report
    assert "beside another harness process, " in report   # the cost section's summary


def test_the_findings_flag_contenders_trained_beside_another_process(
        two_lexicons, tmp_path, other_harness_process):
    data = make_hub_folder(tmp_path / "d")
    assert main(["run", "--systems", ",".join(two_lexicons), "--benchmark", "B",
                 "--data", str(data), "--latency-batches", "1", "--reports", str(tmp_path / "r"),
                 "--runs", str(tmp_path / "runs")]) == 0
    md = (tmp_path / "r" / "B.md").read_text()
    findings = md[md.index("## Findings"):md.index("## Cost against quality")]
    flag = "**Trained beside another harness process** (training seconds above their own): "
    [line] = [l for l in findings.splitlines() if flag in l]
    assert all(name in line.split(flag)[1] for name in two_lexicons)
