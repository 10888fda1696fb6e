"""The full-size synthetic corpus of the scale benchmark: sizes, seeded
repeats, and files the harness's loader reads."""
import json
import sys
from pathlib import Path

from harness.data.multinerd import load_local

sys.path.insert(0, str(Path(__file__).resolve().parents[1] / "benchmarks"))
from synthetic_corpus import FILES, repeated, sizes_for, write_corpus  # noqa: E402


def _source(tmp_path: Path, n: int) -> Path:
    for split, rel in FILES.items():
        path = tmp_path / "src" / rel
        path.parent.mkdir(parents=True, exist_ok=True)
        path.write_text("".join(json.dumps({"tokens": [f"{split}{i}", "x"], "ner_tags": [1, 0],
                                            "lang": "en"}) + "\n" for i in range(n)))
    return tmp_path / "src"


def test_each_repeat_is_a_whole_seeded_permutation():
    lines = [f"{i}\n" for i in range(10)]
    out = repeated(lines, 25, seed=3)
    assert len(out) == 25
    assert sorted(out[:10]) == sorted(lines) and sorted(out[10:20]) == sorted(lines)
    assert out[:10] != out[10:20]                 # the repeats do not line up
    assert out == repeated(lines, 25, seed=3)     # and the seed fixes them
    assert out != repeated(lines, 25, seed=4)


def test_corpus_has_the_sizes_asked_for_and_loads(tmp_path):
    source = _source(tmp_path, 7)
    assert sizes_for(source, 4) == {"train": 28, "validation": 28, "test": 28}
    assert sizes_for(source, None)["train"] == 262_560
    write_corpus(source, tmp_path / "out", {"train": 30, "validation": 5, "test": 9})
    data = load_local(tmp_path / "out")
    assert {k: len(v) for k, v in data.splits.items()} == {"train": 30, "validation": 5, "test": 9}
    assert {t[0] for t in data.splits["train"].tokens} == {f"train{i}" for i in range(7)}
