"""The rest of the bad-input catalogue: config ranges, score with nothing
matched, byte-order marks, odd TSV tags, other formats, Ctrl-C, file modes,
one corrupt result, and two runs sharing a run folder."""
import json
import multiprocessing
import os
import stat

import time

import pytest

from conftest import TINY, make_hub_folder, write_jsonl
from harness.cli import main
from harness.core import ConfigError
from harness.core.config_checks import checked
from harness.measure.contention import _is_harness
from harness.data.multinerd import read_jsonl, read_tsv
from harness.core.errors import DataError
from harness.core.fileio import write_text_atomic
from tests_support.readme_examples import ensure_registered


@pytest.fixture(autouse=True)
def lexicon():
    return ensure_registered()


def _run_args(data, tmp_path, *extra):
    return ["run", "--systems", "lexicon", "--benchmark", "B", "--data", str(data),
            "--latency-batches", "1", "--reports", str(tmp_path / "r"),
            "--runs", str(tmp_path / "runs"), *extra]


def test_config_fields_are_checked_for_type_and_range(lexicon):
    cfg = lexicon.Config()
    for field, value, message in [("epochs", 0, "must be at least 1"),
                                  ("epochs", True, "expected int"),
                                  ("batch_size", 2.5, "expected int")]:
        with pytest.raises(ConfigError, match=f"system 'lexicon': field '{field}' = .*{message}"):
            checked("lexicon", type(cfg)(**{**cfg.__dict__, field: value}))
    from harness.core import get_system

    bert = get_system("bert")
    assert bert.make_config("offline", learning_rate=1).learning_rate == 1   # an int for a float
    with pytest.raises(ConfigError, match="'learning_rate' = 0: must be above 0"):
        bert.make_config("offline", learning_rate=0)
    with pytest.raises(ConfigError, match="'learning_rate' = 'abc': expected float"):
        bert.make_config("offline", learning_rate="abc")


def test_a_bad_value_stops_before_any_run_folder(tmp_path, capsys):
    data = make_hub_folder(tmp_path / "d")
    assert main(_run_args(data, tmp_path, "--set", "lexicon.epochs=-1")) == 2
    assert not (tmp_path / "runs").exists() or not any((tmp_path / "runs").rglob("spec.json"))


def test_score_warns_on_missing_and_fails_when_nothing_matches(tmp_path, capsys):
    gold = write_jsonl(tmp_path / "gold.jsonl", TINY[:3])
    half = write_jsonl(tmp_path / "half.jsonl", [{"tokens": TINY[0]["tokens"],
                                                  "pred": ["O"] * len(TINY[0]["tokens"])}])
    none = write_jsonl(tmp_path / "none.jsonl", [{"tokens": ["x"], "pred": ["O"]}])
    assert main(["score", "--gold", str(gold), "--predictions", str(half), "--scheme", "B"]) == 0
    assert "warning: 2 of 3 gold sentences have no prediction" in capsys.readouterr().err
    assert main(["score", "--gold", str(gold), "--predictions", str(none), "--scheme", "B"]) == 1
    err = capsys.readouterr().err
    assert "error: no predicted sentence in" in err and "matches a gold sentence" in err


def test_other_prediction_formats_are_named(tmp_path, capsys):
    gold = write_jsonl(tmp_path / "gold.jsonl", TINY[:3])
    other = tmp_path / "pred.yaml"
    other.write_text("predictions:\n  - Ada: B-PER\n")
    assert main(["score", "--gold", str(gold), "--predictions", str(other), "--scheme", "B"]) == 2
    err = capsys.readouterr().err.strip()
    assert err.startswith(f"error: {other}:1: expected 2 (token, predicted) or 3")
    assert "read as JSONL with tokens and pred, a sentence|gold|predicted CSV, or CoNLL" in err
    broken = tmp_path / "pred.jsonl"
    broken.write_text('{"tokens": ["Ada"]\n')
    assert main(["score", "--gold", str(gold), "--predictions", str(broken), "--scheme", "B"]) == 2
    err = capsys.readouterr().err.strip()
    assert err.startswith(f"error: {broken}:1: not valid JSON") and "CSV (.csv, .tsv, .psv)" in err


def test_a_byte_order_mark_is_read_and_odd_tsv_tags_name_their_line(tmp_path):
    path = tmp_path / "bom.jsonl"
    path.write_bytes(b"\xef\xbb\xbf" + json.dumps(TINY[0]).encode() + b"\n")
    assert read_jsonl(path).tokens == [TINY[0]["tokens"]]
    tsv = tmp_path / "t.tsv"
    tsv.write_text("Ada\tB-PER\nx\t\u00b2\n", encoding="utf-8")
    with pytest.raises(DataError, match=r"t.tsv:2: field 'tag': unknown MultiNERD tag '\u00b2'"):
        read_tsv(tsv)


def test_ctrl_c_is_one_line_with_the_command_that_resumes(tmp_path, capsys, monkeypatch):
    import harness.cli as cli

    def interrupted(args):
        raise KeyboardInterrupt

    monkeypatch.setattr(cli, "cmd_run", interrupted)
    assert main(["run", "--systems", "lexicon"]) == 130
    lines = [l for l in capsys.readouterr().err.splitlines() if l]
    assert len(lines) == 1 and lines[0].startswith("interrupted: finished runs are kept")
    assert lines[0].endswith("python -m harness run --systems lexicon")


def test_written_files_follow_the_umask(tmp_path):
    old = os.umask(0o022)
    try:
        write_text_atomic(tmp_path / "a.json", "{}")
        os.umask(0o077)
        write_text_atomic(tmp_path / "b.json", "{}")
    finally:
        os.umask(old)
    assert stat.S_IMODE((tmp_path / "a.json").stat().st_mode) == 0o644
    assert stat.S_IMODE((tmp_path / "b.json").stat().st_mode) == 0o600


def test_one_corrupt_result_stops_only_its_benchmark(tmp_path, capsys):
    data = make_hub_folder(tmp_path / "d")
    assert main(_run_args(data, tmp_path, "--benchmark", "A,B")) == 0
    bad = tmp_path / "r" / "results" / "A" / "lexicon.json"
    bad.write_text("{broken")
    capsys.readouterr()
    assert main(["report", "--reports", str(tmp_path / "r")]) == 1
    out = capsys.readouterr()
    assert f"error: benchmark A not rebuilt: {bad}:1: not valid JSON" in out.err
    assert "report: " + str(tmp_path / "r" / "B.md") in out.out
    assert f"_Not shown: {bad}:1: not valid JSON" in (tmp_path / "r" / "index.md").read_text()


def test_harness_command_lines_are_recognised():
    assert _is_harness(["/usr/bin/python3", "-m", "harness", "run"])
    assert _is_harness(["/venv/bin/ner-harness", "curve"])
    assert not _is_harness(["python", "-m", "pytest", "harness"])
    assert _is_harness(["ray::run_logged", ""])          # a Ray worker running a point
    assert not _is_harness(["ray::IDLE", ""])


def _train_once(args, counter):
    """One of two processes running the same spec at once (forked: the lexicon
    system and the counting patch are inherited)."""
    lexicon = ensure_registered()
    original = lexicon.train

    def counted(self, *a, **kw):
        with open(counter, "a") as fh:
            fh.write(f"{os.getpid()}\n")
        import time
        time.sleep(1.0)   # long enough that the other process finds the folder taken
        return original(self, *a, **kw)

    lexicon.train = counted
    os._exit(main(args))


def test_two_runs_of_one_spec_at_once_train_once_and_both_finish(tmp_path):
    data = make_hub_folder(tmp_path / "d", TINY * 3)
    args, counter = _run_args(data, tmp_path), tmp_path / "trained"
    ctx = multiprocessing.get_context("fork")
    procs = [ctx.Process(target=_train_once, args=(args, counter)) for _ in range(2)]
    for p in procs:
        p.start()
    for p in procs:
        p.join(120)
    assert [p.exitcode for p in procs] == [0, 0]
    assert len(counter.read_text().split()) == 1          # one trained, the other reused
    assert list(json.loads((tmp_path / "r" / "B.json").read_text())["systems"]) == ["lexicon"]
    assert len(list((tmp_path / "runs" / "B" / "lexicon").glob("*/results.json"))) == 1


def test_a_system_whose_model_cannot_be_had_is_skipped_and_the_others_run(tmp_path, capsys):
    data = make_hub_folder(tmp_path / "d")
    code = main(_run_args(data, tmp_path, "--systems", "lexicon,bert",
                          "--set", "bert.model=./no/such/model"))
    err = capsys.readouterr().err
    assert code == 0
    assert "skipped system 'bert': model not available: model path './no/such/model' does not exist" in err
    assert list(json.loads((tmp_path / "r" / "B.json").read_text())["systems"]) == ["lexicon"]


def test_a_stopped_harness_process_does_not_count_as_sharing_the_machine(other_harness_process):
    """A job paused with SIGSTOP (to time another) takes no CPU: not contention."""
    import os
    import signal

    from harness.measure.contention import other_harness_processes

    os.kill(other_harness_process, signal.SIGSTOP)
    time.sleep(0.3)
    assert other_harness_process not in other_harness_processes()


def test_the_command_that_submitted_a_point_does_not_count_as_sharing_the_machine(
        monkeypatch, other_harness_process):
    """A SLURM or Ray point names the waiting command that submitted it
    (HARNESS_DRIVER_PID): that one computes nothing beside it."""
    from harness.measure.contention import DRIVER_VARIABLE, other_harness_processes

    monkeypatch.setenv(DRIVER_VARIABLE, str(other_harness_process))
    assert other_harness_process not in other_harness_processes()
