"""What the quick start relies on: a training size per system, a summary at
the end, the index page, profiles that inherit, and one-line hub errors."""
import pytest

from conftest import TINY, make_hub_folder
from tests_support.readme_examples import ensure_registered
from harness.cli import main, parse_limits
from harness.core import unregister_system
from harness.data.benchmarks import BENCHMARKS
from harness.core.errors import ConfigError
from harness.run.runner import RunOptions, run


def test_limits_parse_a_common_size_and_each_systems_own():
    assert parse_limits([]) == (None, {})
    assert parse_limits(["1000", "llm=250", "bert=2000"]) == (1000, {"llm": 250, "bert": 2000})
    for bad in (["=5"], ["llm=0"], ["llm=many"], ["-3"]):
        with pytest.raises(ValueError, match="--limit expects"):
            parse_limits(bad)


def test_each_system_trains_on_its_own_size_and_the_index_lists_them(two_lexicons, tmp_path):
    data = make_hub_folder(tmp_path / "data", TINY * 3)   # 9 English sentences a split
    opts = RunOptions(systems=two_lexicons, benchmarks=[BENCHMARKS["B"]], data=str(data),
                      reports_dir=tmp_path / "r", runs_dir=tmp_path / "runs", latency_batches=2,
                      limit=6, system_limits={"lexicon-cased": 3})
    results = {r.system: r for r in run(opts)}
    assert results["lexicon"].train_sentences == 6
    assert results["lexicon-cased"].train_sentences == 3
    assert results["lexicon-cased"].spec["train_limit"] == 3
    # Both are scored on the same test sentences.
    assert results["lexicon"].test_sentences_sha256 == results["lexicon-cased"].test_sentences_sha256
    index = (tmp_path / "r" / "index.md").read_text()
    assert "## Benchmark B" in index and "[B.md](B.md)" in index
    assert "| lexicon-cased" in index and "**Not like for like:**" in index
    assert "plots/B-cost-speed.png" in index
    with pytest.raises(ConfigError, match=r"--limit names system\(s\) \['nope'\]"):
        run(RunOptions(**(vars(opts) | {"system_limits": {"nope": 3}})))


def test_a_profile_without_settings_of_its_own_inherits_them():
    lexicon = ensure_registered()
    try:
        assert lexicon.make_config("offline-base") == lexicon.make_config("offline")
        with pytest.raises(ConfigError, match="no profile 'nowhere'"):
            lexicon.make_config("nowhere")
    finally:
        unregister_system("lexicon")
    from harness.core.registry import get_system
    assert get_system("bert").make_config("offline-base").model == "all-mpnet-base-v2"


def test_the_command_ends_with_the_summary_and_the_report_paths(two_lexicons, tmp_path, capsys):
    data = make_hub_folder(tmp_path / "data", TINY * 3)
    rc = main(["run", "--systems", "lexicon,lexicon-cased", "--benchmark", "B", "--data", str(data),
               "--limit", "6", "--limit", "lexicon-cased=3", "--latency-batches", "2",
               "--latency-warmup", "1",
               "--reports", str(tmp_path / "r"), "--runs", str(tmp_path / "runs")])
    out = capsys.readouterr().out
    assert rc == 0
    import json
    published = json.loads((tmp_path / "r" / "results" / "B" / "lexicon.json").read_text())
    assert {(r["warmup_batches"], r["timed_batches"]) for r in published["latency"]} == {(1, 2)}
    assert "Benchmark B (test split)" in out and "| lexicon-cased" in out
    # Then where the time went: each run's stages, and the sum.
    stages = out.split("Where the time went, B")[1].split("report:")[0]
    rows = {line.split("|")[1].strip(): [c.strip() for c in line.split("|")[2:-1]]
            for line in stages.splitlines() if line.startswith("| ")}
    assert set(rows) == {"run", "lexicon", "lexicon-cased", "all"}
    assert rows["lexicon"][3].isdigit() and rows["lexicon"][4] == "9"   # latency s, test sentences
    assert rows["all"][5].isdigit()
    assert f"report: {tmp_path / 'r' / 'B.md'}" in out and f"index: {tmp_path / 'r' / 'index.md'}" in out


def test_an_unreachable_hub_dataset_is_one_line(monkeypatch, tmp_path, capsys):
    import datasets

    def offline(*args, **kwargs):
        raise ConnectionError("Couldn't reach 'Babelscape/multinerd' on the Hub (LocalEntryNotFoundError)")

    monkeypatch.setattr(datasets, "load_dataset", offline)
    ensure_registered()
    try:
        rc = main(["run", "--systems", "lexicon", "--benchmark", "B", "--profile", "full",
                   "--reports", str(tmp_path / "r"), "--runs", str(tmp_path / "runs")])
    finally:
        unregister_system("lexicon")
    err = capsys.readouterr().err.strip().splitlines()
    assert rc == 2
    assert err[-1].startswith("error: dataset 'Babelscape/multinerd' could not be loaded from the "
                              "Hugging Face hub (Couldn't reach")
    assert "--data PATH" in err[-1] and "--profile offline" in err[-1]
    assert not any("Traceback" in line for line in err)


def test_an_unreachable_hub_model_is_one_line(monkeypatch, tmp_path):
    import transformers

    from harness.core.errors import ModelNotFoundError
    from harness.data.multinerd import SCHEMES
    from harness.core.registry import get_system

    def offline(*args, **kwargs):
        raise OSError("We couldn't connect to 'https://huggingface.co' to load the files\nmore")

    monkeypatch.setattr(transformers.AutoTokenizer, "from_pretrained", offline)
    bert = get_system("bert")
    system = bert(SCHEMES["B"], bert.make_config("full"))
    with pytest.raises(ModelNotFoundError) as err:
        system._build("bert-base-uncased")
    message = str(err.value)
    assert "\n" not in message and "'bert-base-uncased'" in message
    assert "We couldn't connect" in message and "--profile offline" in message


def test_a_systems_own_setting_wins_over_the_common_options(tmp_path):
    from harness.run.runner import plan

    lexicon = ensure_registered()
    data = make_hub_folder(tmp_path / "data", TINY)
    try:
        loaded = BENCHMARKS["B"].dataset.load(str(data))

        def epochs(**opts):
            o = RunOptions(systems=["lexicon"], benchmarks=[BENCHMARKS["B"]], **opts)
            return plan(o, BENCHMARKS["B"], "lexicon", loaded).config.epochs

        assert epochs() == lexicon.make_config("offline").epochs
        assert epochs(overrides={"lexicon.epochs": 3}) == 3
        assert epochs(overrides={"epochs": 4}) == 4
        assert epochs(epochs=5) == 5
        assert epochs(epochs=5, overrides={"lexicon.epochs": 3}) == 3
    finally:
        unregister_system("lexicon")


def test_the_common_epochs_leave_a_zero_shot_system_at_zero(tmp_path):
    """--epochs 1 (the CI gate's) is for the systems that train: the zero-shot
    spaCy pipeline keeps 0 epochs and its run hash; a --set for it still applies."""
    from harness.run.runner import plan

    pytest.importorskip("spacy")
    data = make_hub_folder(tmp_path / "data", TINY)
    loaded = BENCHMARKS["B"].dataset.load(str(data))

    def config(**opts):
        o = RunOptions(systems=["spacy-pretrained"], benchmarks=[BENCHMARKS["B"]], **opts)
        return plan(o, BENCHMARKS["B"], "spacy-pretrained", loaded)

    assert config(epochs=1).config.epochs == 0
    assert config(epochs=1).spec.digest == config().spec.digest
    assert config(epochs=1, batch_size=8).config.batch_size == 8
    assert config(epochs=1, overrides={"spacy-pretrained.epochs": 2}).config.epochs == 2
