"""The Every Eval Ever export validates against the schema as published."""
import json
from pathlib import Path

import pytest

from conftest import ROOT, TINY, make_hub_folder
from harness.cli import main
from harness.data.benchmarks import BENCHMARKS
from tests_support.readme_examples import ensure_registered

jsonschema = pytest.importorskip("jsonschema")
SCHEMA = json.loads((Path(__file__).parent / "data/every_eval_ever/eval.schema.json").read_text())


def test_a_benchmark_exports_valid_records(tmp_path, capsys):
    ensure_registered()
    data = make_hub_folder(tmp_path / "d", TINY * 3)   # 9 sentences: subsets of 4 differ by seed
    common = ["--benchmark", "B", "--data", str(data), "--latency-batches", "1",
              "--reports", str(tmp_path / "r"), "--runs", str(tmp_path / "runs")]
    assert main(["run", "--systems", "lexicon", *common]) == 0
    assert main(["run", "--systems", "lexicon", "--seeds", "42,43,44", "--label", "lexicon-2",
                 "--limit", "4", *common]) == 0
    out = tmp_path / "eee"
    assert main(["export-results", "--benchmark", "B", "--reports", str(tmp_path / "r"),
                 "--out", str(out)]) == 0
    records = {p.stem: json.loads(p.read_text()) for p in (out / "B").glob("*.json")}
    assert set(records) == {"lexicon", "lexicon-2"}
    for rec in records.values():
        jsonschema.validate(rec, SCHEMA)
    micro = records["lexicon-2"]["evaluation_results"][0]
    assert micro["metric_config"]["metric_id"] == "f1_micro"
    assert micro["score_details"]["uncertainty"]["confidence_interval"]["method"] == \
        "Student t over training seeds"
    assert micro["score_details"]["details"]["seeds"] == "42,43,44"


def test_re_exporting_rewrites_only_records_whose_results_changed(tmp_path, capsys,
                                                                    monkeypatch):
    from harness.reporting import every_eval_ever

    ensure_registered()
    data = make_hub_folder(tmp_path / "d", TINY * 3)
    common = ["--benchmark", "B", "--data", str(data), "--latency-batches", "1",
              "--reports", str(tmp_path / "r"), "--runs", str(tmp_path / "runs")]
    assert main(["run", "--systems", "lexicon", *common]) == 0
    assert main(["run", "--systems", "lexicon", "--label", "lexicon-4", "--limit", "4",
                 *common]) == 0
    export = ["export-results", "--benchmark", "B", "--reports", str(tmp_path / "r"),
              "--out", str(tmp_path / "eee")]
    monkeypatch.setattr(every_eval_ever.time, "time", lambda: 1000.0)
    assert main(export) == 0
    first = {p.name: p.read_bytes() for p in (tmp_path / "eee" / "B").glob("*.json")}
    assert b'"retrieved_timestamp": "1000"' in first["lexicon.json"]

    # Later, with one contender's result changed: only its record is written again.
    result = tmp_path / "r" / "results" / "B" / "lexicon-4.json"
    changed = json.loads(result.read_text())
    changed["test"]["precision"] = 0.123
    result.write_text(json.dumps(changed))
    monkeypatch.setattr(every_eval_ever.time, "time", lambda: 2000.0)
    capsys.readouterr()
    assert main(export) == 0
    out = capsys.readouterr().out
    assert "2 records in " in out and "(1 written, 1 unchanged)" in out
    again = {p.name: p.read_bytes() for p in (tmp_path / "eee" / "B").glob("*.json")}
    assert again["lexicon.json"] == first["lexicon.json"]
    assert b'"retrieved_timestamp": "2000"' in again["lexicon-4.json"]


@pytest.mark.parametrize("path", sorted((ROOT / "reports" / "results").glob("*/*.json"))[:3])
def test_committed_results_export_valid_records(path):
    from harness.reporting.every_eval_ever import record
    from harness.evaluation.results import RunResult

    r = RunResult.read(path)
    jsonschema.validate(record(BENCHMARKS[r.benchmark], path.stem, {r.seed: r}, "0"), SCHEMA)
