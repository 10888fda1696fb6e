"""Benchmark definitions: a dataset in another format, registered as one
definition (the README's example), runs end to end; MultiNERD's other
languages are the same definitions in another language."""
import json

import pytest

from conftest import TINY, write_jsonl
from harness.core.errors import ConfigError, DataError
from harness.data.benchmarks import BENCHMARKS, get_benchmark, parse_benchmarks, unregister_benchmark
from tests_support.readme_examples import ensure_registered, readme_example

SENTENCES = [
    [("Ada", "B-PER"), ("Lovelace", "I-PER"), ("visited", "O"), ("Paris", "B-LOC"), (".", "O")],
    [("Acme", "B-ORG"), ("Corp", "I-ORG"), ("sold", "O"), ("Linux", "B-MISC"), (".", "O")],
    [("Paris", "B-LOC"), ("hosted", "O"), ("Ada", "B-PER"), (".", "O")],
]


def write_conll(path, sentences, docstart=True):
    lines = ["-DOCSTART- -X- O O", ""] if docstart else []
    for sentence in sentences:   # CoNLL-2003 columns: token POS chunk tag
        lines += [f"{tok} NNP B-NP {tag}" for tok, tag in sentence] + [""]
    path.write_text("\n".join(lines) + "\n")
    return path


@pytest.fixture
def conll_demo(tmp_path):
    exec(compile(readme_example("adding-a-benchmark"), "README.md", "exec"), {})
    folder = tmp_path / "conll"
    folder.mkdir()
    for split in ("train", "dev", "test"):
        write_conll(folder / f"{split}.conll", SENTENCES)
    yield get_benchmark("conll-demo"), folder
    unregister_benchmark("conll-demo")


def test_a_conll_benchmark_runs_end_to_end_and_scores_through_its_reader(conll_demo, tmp_path):
    from harness.evaluation.scoring import score_files
    from harness.run.runner import RunOptions, run

    bench, folder = conll_demo
    ensure_registered()
    opts = RunOptions(systems=["lexicon"], benchmarks=[bench], data=str(folder),
                      reports_dir=tmp_path / "reports", runs_dir=tmp_path / "runs",
                      latency_batches=2, command="test")
    [result] = run(opts)
    assert result.benchmark == "conll-demo"
    assert result.test["f1"] == 1.0 and set(result.test["per_type"]) == {"PER", "ORG", "LOC",
                                                                         "MISC"}
    report = (tmp_path / "reports" / "conll-demo.md").read_text()
    assert "CoNLL-style demo corpus English, label scheme conll-demo" in report
    assert "conll-demo" in (tmp_path / "reports" / "index.md").read_text()
    scored = score_files(folder / "test.conll",
                         tmp_path / "runs" / "conll-demo" / "lexicon" / result.run_dir.split("/")[-1]
                         / "predictions" / "test.jsonl", bench)
    assert scored["f1"] == 1.0 and scored["missing"] == 0


def test_a_tag_outside_the_dataset_tag_set_is_an_error_naming_the_file(conll_demo, tmp_path):
    from harness.run.runner import RunOptions, run

    bench, folder = conll_demo
    write_conll(folder / "train.conll", [[("Ada", "B-PER"), ("ate", "O"), ("pasta", "B-FOOD")]])
    ensure_registered()
    opts = RunOptions(systems=["lexicon"], benchmarks=[bench], data=str(folder),
                      reports_dir=tmp_path / "r", runs_dir=tmp_path / "runs", command="test")
    with pytest.raises(DataError, match=r"conll: train sentence 1: tag 'B-FOOD' is not in the tag "
                                        r"set of CoNLL-style demo corpus English \(PER, ORG, LOC, MISC\)"):
        run(opts)
    with pytest.raises(DataError, match=r"train.conll:3: tag column: not an IOB2 tag: 'PERSON'"):
        write_conll(folder / "train.conll", [[("Ada", "PERSON")]])
        bench.dataset.load(str(folder))


def test_multinerd_languages_are_the_same_definitions_in_another_language(tmp_path):
    [a_de] = parse_benchmarks("A", "de")
    assert a_de.name == "A-de" and a_de.scheme == BENCHMARKS["A"].scheme
    assert a_de.dataset.language == "de" and a_de.title.startswith("MultiNERD German")
    for split, stem in (("train", "train"), ("val", "val"), ("test", "test")):
        (tmp_path / split).mkdir()
        rows = [dict(r, lang="de") for r in TINY] + [dict(TINY[0], lang="en")]
        write_jsonl(tmp_path / split / f"{stem}_de.jsonl", rows)
    loaded = a_de.dataset.load(str(tmp_path))
    assert len(loaded.splits["train"]) == len(TINY)   # the English row is not German
    with pytest.raises(ConfigError, match="MultiNERD has no language 'xx'"):
        parse_benchmarks("B", "xx")
    assert get_benchmark("A-de") == a_de          # `report --benchmark A-de` finds it again
    assert json.dumps(get_benchmark("B").scheme.to_dict())


def test_a_gold_tag_outside_the_tag_set_names_the_gold_file(conll_demo, tmp_path):
    from harness.evaluation.scoring import score_files

    bench, folder = conll_demo
    gold = write_conll(tmp_path / "gold.conll", [[("Ada", "B-PERS")]])
    pred = write_jsonl(tmp_path / "p.jsonl", [{"tokens": ["Ada"], "pred": ["B-PER"]}])
    with pytest.raises(DataError, match=r"gold.conll: gold sentence 1: unknown entity type 'PERS'"):
        score_files(gold, pred, bench)
    (tmp_path / "tab.conll").write_text("Ada\tB-PER\n\tO\n")
    with pytest.raises(DataError, match=r"tab.conll:2: field 'token'\[0\]: empty"):
        bench.read_gold(tmp_path / "tab.conll")
