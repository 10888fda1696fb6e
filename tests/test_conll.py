"""CoNLL column files in and out, conlleval numbers beside strict ones, and
invalid transitions counted; checked against seqeval's strict mode and an
independent port of conlleval.pl."""
import gzip
import json

import pytest

from conftest import TINY, write_jsonl
from harness.cli import main
from harness.data.conll import read_conll, write_conll
from harness.core.errors import DataError
from harness.evaluation.analysis import invalid_transitions, repairs
from harness.data.multinerd import SCHEMES
from harness.evaluation.metrics import score

B = SCHEMES["B"]
GOLD = [["B-PER", "I-PER", "O", "O", "B-LOC", "O"], ["O", "O", "O", "O", "B-ORG", "I-ORG", "O"]]
# Invalid transitions: I-LOC at a sentence start... and I-ORG after O.
PRED = [["I-PER", "I-PER", "O", "O", "B-LOC", "O"], ["O", "O", "O", "O", "O", "I-ORG", "O"]]
TOKENS = [TINY[0]["tokens"], TINY[1]["tokens"]]


def _score(capsys, *args) -> dict:
    assert main(["score", "--scheme", "B", "--format", "json", *map(str, args)]) == 0
    return json.loads(capsys.readouterr().out)


def test_invalid_transitions_and_the_two_repairs():
    assert invalid_transitions(PRED) == 2
    assert invalid_transitions(GOLD) == 0
    rep = repairs(GOLD, PRED)
    assert rep["discard"]["f1"] == pytest.approx(score(GOLD, PRED)["f1"])   # seqeval strict
    # conlleval reads I-PER I-PER as PER (correct) and I-ORG as a one-token ORG (wrong span).
    assert rep["conlleval"]["precision"] == pytest.approx(2 / 3)
    assert rep["conlleval"]["recall"] == pytest.approx(2 / 3)


def test_a_three_column_file_scores_without_gold_as_its_report_does(tmp_path, capsys):
    path = tmp_path / "run.conll"
    write_conll(path, TOKENS, GOLD, PRED)
    r = _score(capsys, "--predictions", path)
    assert r["format"] == "conll" and r["f1"] == pytest.approx(score(GOLD, PRED)["f1"])
    assert r["invalid_transitions"] == 2
    assert r["conlleval_f1"] == pytest.approx(repairs(GOLD, PRED)["conlleval"]["f1"])
    zipped = tmp_path / "run.conll.gz"
    zipped.write_bytes(gzip.compress(b"-DOCSTART- -X- O O\n\n" + path.read_bytes()))
    assert _score(capsys, "--predictions", zipped)["f1"] == r["f1"]


def test_a_two_column_file_takes_its_gold_from_the_gold_file(tmp_path, capsys):
    gold = write_jsonl(tmp_path / "gold.jsonl", TINY[:2])
    pred = tmp_path / "pred.txt"
    pred.write_text("\n\n".join("\n".join(f"{t} {p}" for t, p in zip(toks, tags))
                                for toks, tags in zip(TOKENS, PRED)) + "\n")
    r = _score(capsys, "--gold", gold, "--predictions", pred)
    assert r["matched"] == 2 and r["f1"] == pytest.approx(score(GOLD, PRED)["f1"])


def test_the_conlleval_numbers_match_an_independent_conlleval(tmp_path, capsys):
    conlleval = pytest.importorskip("conlleval")
    path = tmp_path / "run.conll"
    write_conll(path, TOKENS, GOLD, PRED)
    ours = _score(capsys, "--predictions", path)
    lines = [" ".join(line.split("\t")) for line in path.read_text().splitlines()]
    theirs = conlleval.evaluate(lines)["overall"]["chunks"]["evals"]
    assert ours["conlleval_precision"] == pytest.approx(theirs["prec"])
    assert ours["conlleval_recall"] == pytest.approx(theirs["rec"])
    assert ours["conlleval_f1"] == pytest.approx(theirs["f1"])
    assert ours["f1"] != pytest.approx(ours["conlleval_f1"])   # the two readings differ here


@pytest.mark.parametrize("text, message", [
    ("Ada B-PER x y\n", "run.conll:1: expected 2 (token, predicted) or 3 (token, gold, predicted) columns, got 4"),
    ("Ada B-PER B-PER\nLovelace I-PER\n", "run.conll:2: expected 3 columns, got 2"),
    ("", "run.conll: empty file: no sentences"),
    ("Ada B-PER B-FOOD\n", "run.conll:1: predicted tag 'B-FOOD' is not in scheme B"),
    ("Ada B-XYZ B-PER\n", "run.conll:1: gold tag 'B-XYZ': unknown entity type 'XYZ'"),
])
def test_malformed_conll_is_one_line_naming_the_line(tmp_path, text, message):
    path = tmp_path / "run.conll"
    path.write_text(text)
    with pytest.raises(DataError) as err:
        read_conll(path, B)
    assert str(err.value).startswith(str(tmp_path)) and message in str(err.value)


def test_gold_and_predicted_tokens_that_differ_match_nothing(tmp_path, capsys):
    gold = write_jsonl(tmp_path / "gold.jsonl", TINY[:2])
    pred = tmp_path / "pred.conll"
    pred.write_text("Grace B-PER\nHopper I-PER\n")
    assert main(["score", "--scheme", "B", "--gold", str(gold), "--predictions", str(pred)]) == 1
    assert "matches a gold sentence" in capsys.readouterr().err


def test_two_columns_without_gold_is_an_error(tmp_path, capsys):
    pred = tmp_path / "pred.conll"
    pred.write_text("Ada B-PER\n")
    assert main(["score", "--scheme", "B", "--predictions", str(pred)]) == 2
    assert "holds no gold tags" in capsys.readouterr().err


def test_a_run_writes_its_predictions_as_conll_and_export_rewrites_them(tmp_path, capsys):
    from conftest import make_hub_folder
    from tests_support.readme_examples import ensure_registered

    ensure_registered()
    data = make_hub_folder(tmp_path / "d")
    assert main(["run", "--systems", "lexicon", "--benchmark", "B", "--data", str(data),
                 "--latency-batches", "1", "--reports", str(tmp_path / "r"),
                 "--runs", str(tmp_path / "runs")]) == 0
    run_dir = next((tmp_path / "runs" / "B" / "lexicon").iterdir())
    written = run_dir / "predictions" / "test.conll"
    result = json.loads((tmp_path / "r" / "results" / "B" / "lexicon.json").read_text())
    capsys.readouterr()
    assert _score(capsys, "--predictions", written)["f1"] == pytest.approx(result["test"]["f1"])
    assert result["repairs"]["invalid_transitions"] == 0
    out = tmp_path / "exported.conll"
    assert main(["export", "--run", str(run_dir), "--out", str(out)]) == 0
    assert out.read_text() == written.read_text()
