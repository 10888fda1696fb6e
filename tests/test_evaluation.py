import random

import pytest

from harness.evaluation.analysis import (bootstrap_f1_ci, confusion, error_taxonomy, f1_from_counts,
                                paired_bootstrap, sentence_counts, strict_spans, word_tag_scores)
from harness.evaluation.metrics import score

TYPES = ("PER", "LOC", "ORG")


def random_tags(rng, n):
    tags = []
    for _ in range(n):
        r = rng.random()
        tags.append("O" if r < 0.5 else f"{rng.choice('BI')}-{rng.choice(TYPES)}")
    return tags


def test_strict_spans_follow_seqeval_strict():
    assert strict_spans(["I-PER", "I-PER", "O"]) == []
    assert strict_spans(["B-LOC", "B-LOC"]) == [(0, 1, "LOC"), (1, 2, "LOC")]
    assert strict_spans(["B-PER", "I-LOC"]) == [(0, 1, "PER")]
    rng = random.Random(0)
    for _ in range(200):
        gold = [random_tags(rng, rng.randint(1, 12)) for _ in range(5)]
        pred = [random_tags(rng, len(g)) for g in gold]
        assert f1_from_counts(sentence_counts(gold, pred)) == pytest.approx(score(gold, pred)["f1"])


def test_bootstrap_ci_contains_estimate_and_is_deterministic():
    rng = random.Random(1)
    gold = [random_tags(rng, 10) for _ in range(200)]
    pred = [[t if rng.random() < 0.8 else "O" for t in g] for g in gold]
    a = bootstrap_f1_ci(gold, pred, seed=7)
    assert a == bootstrap_f1_ci(gold, pred, seed=7)
    assert a["ci95"][0] <= a["f1"] <= a["ci95"][1]
    assert a["ci95"][0] < a["ci95"][1]
    assert a["f1"] == pytest.approx(score(gold, pred)["f1"])


def test_paired_bootstrap():
    rng = random.Random(2)
    gold = [["B-PER", "I-PER", "O", "B-LOC"] for _ in range(100)]
    good = [list(g) for g in gold]
    bad = [["O"] * 4 if rng.random() < 0.6 else list(g) for g in gold]
    same = paired_bootstrap(gold, good, good, seed=0)
    assert same["delta_f1"] == 0 and same["p_value"] == pytest.approx(1.0)
    better = paired_bootstrap(gold, good, bad, seed=0)
    assert better["delta_f1"] > 0 and better["p_value"] < 0.01
    assert paired_bootstrap(gold, bad, good, seed=0)["p_value"] < 0.01


def test_error_taxonomy_hand_checked():
    gold = [["B-PER", "I-PER", "O", "B-LOC", "O", "B-ORG", "I-ORG", "O", "B-PER"]]
    pred = [["B-PER", "I-PER", "O", "B-ORG", "O", "B-ORG", "O", "B-LOC", "O"]]
    assert error_taxonomy(gold, pred) == {"correct": 1, "incorrect_type": 1, "partial": 1,
                                          "missed": 1, "spurious": 1}


def test_confusion_matrix():
    gold = [["B-PER", "O", "B-LOC", "O"]]
    pred = [["B-PER", "O", "B-ORG", "B-LOC"]]
    c = confusion(gold, pred, TYPES)
    m = {(g, p): c["matrix"][i][j] for i, g in enumerate(c["labels"])
         for j, p in enumerate(c["labels"])}
    assert m[("PER", "PER")] == 1 and m[("LOC", "ORG")] == 1 and m[("O", "LOC")] == 1
    assert sum(map(sum, c["matrix"])) == 3


def test_word_tag_scores():
    toks = [["Ada", "met", "Bob"], ["quiet"]]
    gold = [["B-PER", "O", "B-PER"], ["O"]]
    pred = [["B-PER", "O", "O"], ["O"]]
    s = word_tag_scores(toks, gold, pred)
    assert s["precision"] == pytest.approx(1.0)
    assert s["recall"] == pytest.approx((0.5 + 1) / 2)


def test_chunked_resampling_draws_what_one_array_would(monkeypatch):
    # Memory stays bounded at any test size, and the committed intervals do
    # not move: the chunks equal one (resamples, n) draw of the same seed.
    import numpy as np

    from harness.evaluation import analysis

    counts = np.random.default_rng(1).integers(0, 4, size=(37, 3))
    whole = np.random.default_rng(5).integers(0, 37, size=(100, 37))
    monkeypatch.setattr(analysis, "_DRAWS_PER_CHUNK", 37 * 8)   # 8 rows a chunk, 13 chunks
    assert np.array_equal(analysis._resampled_totals(counts, 100, 5), counts[whole].sum(axis=1))
    a, b = counts, counts[::-1].copy()
    chunked = analysis.paired_bootstrap_counts(a, b, 100, 5)
    monkeypatch.setattr(analysis, "_DRAWS_PER_CHUNK", 1 << 21)
    assert chunked == analysis.paired_bootstrap_counts(a, b, 100, 5)
