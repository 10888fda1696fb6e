"""torchrun with two gloo processes on CPU: DDP training through the Trainer,
prediction sharded and gathered in order, and one process writing."""
import json
import os
import subprocess
import sys

import pytest

from conftest import ROOT, TINY, make_hub_folder

pytest.importorskip("transformers")


def test_shard_and_gather_put_items_back_in_order(monkeypatch):
    from harness.core import distributed

    items = list(range(11))
    monkeypatch.setenv("WORLD_SIZE", "3")
    shards = []
    for r in range(3):
        monkeypatch.setenv("RANK", str(r))
        shards.append(distributed.shard(items))
    assert sorted(sum(shards, [])) == items and [len(s) for s in shards] == [4, 4, 3]
    monkeypatch.setattr(distributed, "all_objects", lambda mine: shards)
    assert distributed.gather_shards(shards[2], len(items)) == items


def _run(cmd, tmp_path, name):
    env = dict(os.environ, OMP_NUM_THREADS="1", TOKENIZERS_PARALLELISM="false")
    out = subprocess.run(cmd + ["--reports", str(tmp_path / f"reports-{name}"),
                                "--runs", str(tmp_path / f"runs-{name}")],
                         cwd=ROOT, env=env, capture_output=True, text=True, timeout=900)
    assert out.returncode == 0, out.stderr[-3000:]
    return out


def test_two_gloo_processes_train_predict_and_write_once(tmp_path):
    from tiny_models import tiny_bert_folder

    model = tiny_bert_folder(tmp_path / "tiny-bert")
    data = make_hub_folder(tmp_path / "data", TINY * 4)
    args = ["-m", "harness", "run", "--systems", "bert", "--benchmark", "B", "--data", str(data),
            "--epochs", "1", "--set", f"model={model}", "--set", "max_length=16",
            "--latency-batches", "1"]
    torchrun = [sys.executable, "-m", "torch.distributed.run", "--nproc_per_node", "2",
                "--master_port", "29561"]
    two = _run(torchrun + args + ["--batch-size", "2"], tmp_path, "two")
    one = _run([sys.executable] + args + ["--batch-size", "4"], tmp_path, "one")

    assert two.stderr.count("B/bert: test P") == 1      # one process speaks for both
    runs = list((tmp_path / "runs-two" / "B" / "bert").iterdir())
    assert len(runs) == 1
    rows = [json.loads(line) for line in (runs[0] / "predictions" / "test.jsonl").open()]
    test_tokens = [r["tokens"] for r in TINY * 4 if r["lang"] == "en"]
    assert [r["tokens"] for r in rows] == test_tokens       # every sentence, in order
    result = json.loads((tmp_path / "reports-two" / "B.json").read_text())["systems"]["bert"]
    assert result["runtime"]["world_size"] == 2 and result["spec"]["world_size"] == 2
    assert len(list(runs[0].glob("training.json"))) == 1 and result["training"]["started"]
    # Same global batch (2 processes x 2 against 1 x 4): the same number of optimiser steps.
    single = json.loads((tmp_path / "reports-one" / "B.json").read_text())["systems"]["bert"]
    assert len(result["history"]) == len(single["history"]) == 1
    assert result["test"]["support"] == single["test"]["support"]


def test_processes_that_trained_together_are_part_of_the_run_hash():
    import dataclasses

    from harness.run.runspec import RunSpec

    one = RunSpec(benchmark="B", scheme_types=("PER",), system="bert", profile="offline",
                  system_config={"batch_size": 8}, data_fingerprint="f", train_limit=None,
                  eval_limit=None, seed=42)
    two = dataclasses.replace(one, world_size=2)
    assert "world_size" not in one.to_dict() and two.to_dict()["world_size"] == 2
    # A single-process run keeps the hash it had before the field existed
    # (tests/test_committed_runs.py recomputes the committed runs' digests).
    assert "world_size" not in one.hashed_fields() and two.digest != one.digest


@pytest.mark.parametrize("name, value", [("LOCAL_RANK", "gpu0"), ("WORLD_SIZE", "2.5"),
                                         ("RANK", "-1")])
def test_a_malformed_launcher_variable_is_a_one_line_error(monkeypatch, name, value):
    from harness.core import distributed
    from harness.core.errors import ConfigError

    monkeypatch.setenv(name, value)
    with pytest.raises(ConfigError, match=f"{name}={value!r}"):
        {"LOCAL_RANK": distributed.local_rank, "WORLD_SIZE": distributed.world_size,
         "RANK": distributed.rank}[name]()


def test_an_empty_launcher_variable_means_one_process(monkeypatch):
    from harness.core import distributed

    monkeypatch.setenv("WORLD_SIZE", "")
    assert distributed.world_size() == 1
