
import pytest

from conftest import TINY, make_hub_folder, write_jsonl
from harness.core.errors import DataError
from harness.data.corpus import contamination, subsample_indices, to_scheme
from harness.data.benchmarks import BENCHMARKS
from harness.data.multinerd import load_local, read_jsonl, read_tsv
from harness.data.multinerd import SCHEMES


def test_hub_layout_folder_loads_english_only(hub_folder):
    data = load_local(hub_folder)
    assert set(data.splits) == {"train", "validation", "test"}
    train = data.splits["train"]
    assert len(train) == 3  # the German sentence is dropped
    assert train.tags[1] == ["O", "O", "B-PLANT", "O", "B-ORG", "I-ORG", "O"]
    assert len(data.fingerprint) == 64


def test_fingerprint_follows_content(tmp_path):
    a = load_local(make_hub_folder(tmp_path / "a")).fingerprint
    b = load_local(make_hub_folder(tmp_path / "b")).fingerprint
    c = load_local(make_hub_folder(tmp_path / "c", TINY[:2])).fingerprint
    assert a == b != c


def test_system_b_view_maps_by_name(hub_folder):
    data = load_local(hub_folder)
    b = to_scheme(data.splits["train"], SCHEMES["B"])
    assert b["tags"][1] == ["O", "O", "O", "O", "B-ORG", "I-ORG", "O"]  # PLANT -> O
    assert b["tags"][2] == ["O", "O", "O", "O"]  # FOOD -> O
    a = to_scheme(data.splits["train"], SCHEMES["A"])
    assert a["tags"][2][0] == "B-FOOD"


@pytest.mark.parametrize("line, message", [
    ("{not json", "not valid JSON"),
    ("[1, 2]", "expected a JSON object"),
    ('{"ner_tags": [0], "lang": "en"}', "missing field 'tokens'"),
    ('{"tokens": ["a"], "lang": "en"}', "missing field 'ner_tags'"),
    ('{"tokens": ["a", "b"], "ner_tags": [0], "lang": "en"}', "differ in length (2 vs 1)"),
    ('{"tokens": ["a"], "ner_tags": [31], "lang": "en"}', "'ner_tags'[0]: tag id 31 outside 0..30"),
    ('{"tokens": ["a"], "ner_tags": ["B-PER"], "lang": "en"}', "tag id 'B-PER' outside"),
    ('{"tokens": "a b", "ner_tags": [0, 0], "lang": "en"}', "field 'tokens'"),
])
def test_malformed_jsonl_line_names_file_and_line(tmp_path, line, message):
    path = write_jsonl(tmp_path / "bad.jsonl", [TINY[0], line, TINY[1]])
    with pytest.raises(DataError) as err:
        read_jsonl(path)
    assert f"{path}:2:" in str(err.value)
    assert message in str(err.value)
    assert "\n" not in str(err.value)


def test_empty_file_and_empty_sentence(tmp_path):
    empty = tmp_path / "empty.jsonl"
    empty.write_text("")
    with pytest.raises(DataError, match="empty file"):
        read_jsonl(empty)
    path = write_jsonl(tmp_path / "some.jsonl",
                       [TINY[0], {"tokens": [], "ner_tags": [], "lang": "en"}])
    split = read_jsonl(path)
    assert len(split) == 1 and split.skipped_empty == 1


def test_missing_split_folder_and_missing_data(tmp_path, hub_folder):
    import shutil

    shutil.rmtree(hub_folder / "val")
    with pytest.raises(DataError, match="missing split folder for 'validation'"):
        load_local(hub_folder)
    with pytest.raises(DataError, match="data folder not found"):
        BENCHMARKS["B"].dataset.load(str(tmp_path / "nowhere"))
    (tmp_path / "plain").mkdir()
    with pytest.raises(DataError, match="neither the hub layout"):
        load_local(tmp_path / "plain")


def test_tsv_layout_two_and_three_columns(tmp_path):
    folder = tmp_path / "tsv"
    folder.mkdir()
    (folder / "train_en.tsv").write_text("Ada\tB-PER\nLovelace\tI-PER\nwrote\tO\n\nParis\tB-LOC\n")
    (folder / "val_en.tsv").write_text("0\tRome\tB-LOC\n1\tfell\tO\n")
    (folder / "test_en.tsv").write_text("Pizza\t17\n")
    data = load_local(folder)
    assert data.splits["train"].tokens == [["Ada", "Lovelace", "wrote"], ["Paris"]]
    assert data.splits["train"].tags[0] == ["B-PER", "I-PER", "O"]
    assert data.splits["validation"].tags == [["B-LOC", "O"]]
    assert data.splits["test"].tags == [["B-FOOD"]]


@pytest.mark.parametrize("content, message", [
    ("Ada\tB-XYZ\n", "unknown MultiNERD tag 'B-XYZ'"),
    ("Ada\t99\n", "tag id 99 outside"),
    ("Ada B-PER\n", "expected 'token<TAB>tag'"),
])
def test_malformed_tsv_names_line(tmp_path, content, message):
    path = tmp_path / "train_en.tsv"
    path.write_text("Ok\tO\n\n" + content)
    with pytest.raises(DataError) as err:
        read_tsv(path)
    assert f"{path}:3:" in str(err.value) and message in str(err.value)


def test_subsample_is_deterministic_and_ordered():
    a = subsample_indices(1000, 50, seed=1)
    assert a == subsample_indices(1000, 50, seed=1)
    assert a != subsample_indices(1000, 50, seed=2)
    assert a == sorted(a) and len(set(a)) == 50
    assert subsample_indices(10, None, 0) == list(range(10))
    assert subsample_indices(10, 99, 0) == list(range(10))


def test_contamination_counts_shared_sentences(hub_folder):
    data = load_local(hub_folder)
    assert contamination(data.splits["train"], data.splits["test"]) == 3
