"""`report --rescore`: published results scored again from their run folders."""
import json
import shutil

import pytest

from conftest import make_hub_folder
from harness.cli import main
from tests_support.readme_examples import ensure_registered


@pytest.fixture(autouse=True)
def lexicon_system():
    yield ensure_registered()


def _published(tmp_path, system="lexicon") -> dict:
    return json.loads((tmp_path / "r" / "results" / "B" / f"{system}.json").read_text())


def test_rescore_fills_what_an_older_result_lacks_and_names_what_it_cannot(two_lexicons,
                                                                           tmp_path, capsys):
    data = make_hub_folder(tmp_path / "d")
    assert main(["run", "--systems", ",".join(two_lexicons), "--benchmark", "B",
                 "--data", str(data), "--latency-batches", "1", "--reports", str(tmp_path / "r"),
                 "--runs", str(tmp_path / "runs")]) == 0
    before = _published(tmp_path)
    for system in two_lexicons:   # as scored before per-type counts were kept
        path = tmp_path / "r" / "results" / "B" / f"{system}.json"
        older = {k: v for k, v in json.loads(path.read_text()).items() if k != "type_counts"}
        path.write_text(json.dumps(older))
    shutil.rmtree(_published(tmp_path, "lexicon-cased")["run_dir"])
    capsys.readouterr()

    assert main(["report", "--benchmark", "B", "--reports", str(tmp_path / "r"), "--rescore"]) == 0
    out, err = capsys.readouterr()
    assert "rescored 1 published result of benchmark B" in out
    assert "kept as it was:" in err and "lexicon-cased.json: no saved predictions in" in err
    after = _published(tmp_path)
    assert after["type_counts"] == before["type_counts"] and after["test"] == before["test"]
    assert after["scored"]["from"].endswith("predictions/test.jsonl")
    assert "type_counts" not in _published(tmp_path, "lexicon-cased")


def test_rescore_refuses_a_run_folder_that_holds_another_run(tmp_path, capsys):
    data = make_hub_folder(tmp_path / "d")
    assert main(["run", "--systems", "lexicon", "--benchmark", "B", "--data", str(data),
                 "--latency-batches", "1", "--reports", str(tmp_path / "r"),
                 "--runs", str(tmp_path / "runs")]) == 0
    published = _published(tmp_path)
    spec_file = tmp_path / "runs" / "B" / "lexicon" / published["spec"]["digest"] / "spec.json"
    spec_file.write_text(json.dumps(json.loads(spec_file.read_text()) | {"digest": "0" * 16}))
    capsys.readouterr()
    assert main(["report", "--benchmark", "B", "--reports", str(tmp_path / "r"), "--rescore"]) == 0
    assert f"holds run {'0' * 16}, not {published['spec']['digest']}" in capsys.readouterr().err
    assert _published(tmp_path) == published


def test_rescore_keeps_a_result_whose_folder_was_run_again(tmp_path, capsys):
    """Same spec, other predictions (the folder was run again with --force):
    the published result is not replaced by another run's scores."""
    data = make_hub_folder(tmp_path / "d")
    assert main(["run", "--systems", "lexicon", "--benchmark", "B", "--data", str(data),
                 "--latency-batches", "1", "--reports", str(tmp_path / "r"),
                 "--runs", str(tmp_path / "runs")]) == 0
    published = _published(tmp_path)
    saved = tmp_path / "runs" / "B" / "lexicon" / published["spec"]["digest"] / "predictions" \
        / "test.jsonl"
    rows = [json.loads(line) for line in saved.read_text().splitlines()]
    rows[0]["pred"] = ["O"] * len(rows[0]["pred"])
    saved.write_text("".join(json.dumps(r) + "\n" for r in rows))
    capsys.readouterr()
    assert main(["report", "--benchmark", "B", "--reports", str(tmp_path / "r"), "--rescore"]) == 0
    assert "are not the published run's" in capsys.readouterr().err
    assert _published(tmp_path) == published
