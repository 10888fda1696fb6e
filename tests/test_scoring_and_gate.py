import json
import subprocess
import sys

import pytest

from conftest import ROOT, TINY, write_jsonl
from harness.core.errors import DataError
from harness.evaluation.gate import check
from harness.data.benchmarks import BENCHMARKS
from harness.evaluation.scoring import score_files

B = BENCHMARKS["B"]


def harness(*args):
    return subprocess.run([sys.executable, "-m", "harness", *args], cwd=ROOT,
                          capture_output=True, text=True, timeout=300)


@pytest.fixture
def gold(tmp_path):
    return write_jsonl(tmp_path / "test_en.jsonl", TINY)


def pred_rows(drop_last=False):
    rows = [
        {"tokens": TINY[0]["tokens"], "pred": ["B-PER", "I-PER", "O", "O", "B-LOC", "O"]},
        {"tokens": TINY[1]["tokens"], "pred": ["O", "O", "O", "O", "B-ORG", "O", "O"]},
        {"tokens": TINY[2]["tokens"], "pred": ["O", "O", "O", "O"]},
    ]
    return rows[:-1] if drop_last else rows


def test_score_jsonl(gold, tmp_path):
    r = score_files(gold, write_jsonl(tmp_path / "p.jsonl", pred_rows()), B)
    # gold B entities: PER, LOC, ORG(2 tokens); predicted ORG is cut short -> 2 of 3
    assert r["precision"] == pytest.approx(2 / 3) and r["recall"] == pytest.approx(2 / 3)
    assert r["sentences"] == 3 and r["missing"] == 0
    assert set(r["per_type"]) == {"PER", "LOC", "ORG"}


def test_missing_prediction_counts_as_a_miss(gold, tmp_path):
    r = score_files(gold, write_jsonl(tmp_path / "p.jsonl", pred_rows()[:1]), B)
    assert r["missing"] == 2 and r["recall"] == pytest.approx(2 / 3)


@pytest.mark.parametrize("bad, message", [
    ("{nope", "not valid JSON"),
    ('{"tokens": ["a"]}', "missing or non-list field 'pred'"),
    ('{"tokens": ["a", "b"], "pred": ["O"]}', "differ in length (2 vs 1)"),
    ('{"tokens": ["a"], "pred": ["B-FOOD"]}', "'pred'[0]: tag 'B-FOOD' is not in scheme B"),
])
def test_malformed_prediction_line_names_file_and_line(gold, tmp_path, bad, message):
    path = write_jsonl(tmp_path / "p.jsonl", pred_rows()[:1] + [bad])
    with pytest.raises(DataError) as err:
        score_files(gold, path, B)
    assert f"{path}:2:" in str(err.value) and message in str(err.value)


def test_malformed_gold_line_names_file_and_line(tmp_path):
    gold = write_jsonl(tmp_path / "g.jsonl", [TINY[0], '{"tokens": ["a"], "ner_tags": [99]}'])
    with pytest.raises(DataError, match=r"g.jsonl:2: field 'ner_tags'\[0\]: tag id 99"):
        score_files(gold, write_jsonl(tmp_path / "p.jsonl", pred_rows()), B)


def test_score_csv_of_word_tag_lists(gold, tmp_path):
    csv = tmp_path / "p.csv"
    csv.write_text("sentence|gold|predicted\n"
                   "Ada Lovelace lived in London .|x|Ada:B-PER, Lovelace:I-PER, London:B-LOC\n"
                   "She ate ginseng at Acme Corp .|x|Acme:B-ORG, Corp:I-ORG, Mars:B-LOC, ?\n")
    r = score_files(gold, csv, B)
    assert r["precision"] == 1.0 and r["recall"] == 1.0 and r["missing"] == 1
    assert r["hallucinated_entities"] == 1 and r["malformed_items"] == 1


def test_score_cli_json_and_error(gold, tmp_path):
    path = write_jsonl(tmp_path / "p.jsonl", pred_rows())
    out = harness("score", "--gold", str(gold), "--predictions", str(path), "--scheme", "B",
                  "--format", "json")
    assert out.returncode == 0, out.stderr
    r = json.loads(out.stdout)
    for key in ("precision", "recall", "f1", "per_type", "sentences", "missing"):
        assert key in r
    bad = write_jsonl(tmp_path / "bad.jsonl", ["{oops"])
    out = harness("score", "--gold", str(gold), "--predictions", str(bad), "--scheme", "B")
    assert out.returncode == 2 and f"{bad}:1: not valid JSON" in out.stderr


def _report(tmp_path, f1=0.5):
    from harness.evaluation.results import RunResult

    folder = tmp_path / "reports"
    folder.mkdir()
    fields = {name: {} for name in RunResult.__dataclass_fields__}
    fields.update(benchmark="B", system="bert", test={
        "f1": f1, "precision": 0.6, "per_type": {"LOC": {"f1": 0.7}}})
    (folder / "B.json").write_text(json.dumps({"systems": {"bert": fields}}))
    return folder


def test_check_passes_and_fails(tmp_path):
    reports = _report(tmp_path)
    ok = tmp_path / "ok.toml"
    ok.write_text('[B.bert]\nf1 = 0.4\n"per_type.LOC.f1" = 0.6\n')
    assert check(ok, reports) == []
    raised = tmp_path / "raised.toml"
    raised.write_text("[B.bert]\nf1 = 0.51\nprecision = 0.5\n")
    assert check(raised, reports) == ["B/bert f1 = 0.5000 is below its floor 0.51"]
    odd = tmp_path / "odd.toml"
    odd.write_text("[B.bert]\nbleu = 1\n[B.llm]\nf1 = 0.1\n[A.bert]\nf1 = 0.1\n")
    fails = check(odd, reports)
    assert any("bleu: no such metric" in f for f in fails)
    assert any("B/llm: no result" in f for f in fails)
    assert any("A: no results" in f for f in fails)


def test_check_cli_exit_codes(tmp_path):
    reports = _report(tmp_path)
    floors = tmp_path / "t.toml"
    floors.write_text("[B.bert]\nf1 = 0.9\n")
    out = harness("check", "--thresholds", str(floors), "--reports", str(reports))
    assert out.returncode == 1 and "FAIL B/bert f1 = 0.5000 is below its floor 0.9" in out.stdout
    floors.write_text("[B.bert]\nf1 = 0.1\n")
    assert harness("check", "--thresholds", str(floors), "--reports", str(reports)).returncode == 0
