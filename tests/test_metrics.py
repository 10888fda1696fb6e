import pytest

from harness.evaluation.metrics import LengthMismatchError, score, token_accuracy


def test_perfect_prediction():
    gold = [["B-PER", "I-PER", "O", "B-LOC"]]
    s = score(gold, gold)
    assert (s["precision"], s["recall"], s["f1"]) == (1.0, 1.0, 1.0)
    assert s["support"] == 2
    assert s["per_type"]["PER"]["support"] == 1


def test_hand_checked_partial_case():
    # gold: PER(0-1), LOC(3), ORG(5-6)   pred: PER(0-1) right, LOC(3) as ORG, ORG cut short
    gold = [["B-PER", "I-PER", "O", "B-LOC", "O", "B-ORG", "I-ORG"]]
    pred = [["B-PER", "I-PER", "O", "B-ORG", "O", "B-ORG", "O"]]
    s = score(gold, pred)
    # 1 correct of 3 predicted and of 3 gold
    assert s["precision"] == pytest.approx(1 / 3)
    assert s["recall"] == pytest.approx(1 / 3)
    assert s["f1"] == pytest.approx(1 / 3)
    assert s["per_type"]["PER"]["f1"] == 1.0
    assert s["per_type"]["LOC"]["recall"] == 0.0
    assert s["per_type"]["ORG"]["precision"] == 0.0
    assert s["accuracy"] == pytest.approx(5 / 7)


def test_strict_mode_rejects_a_leading_inside_tag():
    # In strict IOB2 an entity must start with B-; the lenient conlleval
    # reading would count I-PER I-PER as a correct PER.
    gold = [["B-PER", "I-PER", "O"]]
    pred = [["I-PER", "I-PER", "O"]]
    s = score(gold, pred)
    assert s["precision"] == 0.0 and s["recall"] == 0.0 and s["f1"] == 0.0


def test_adjacent_entities_of_one_type_are_two_entities():
    gold = [["B-LOC", "B-LOC", "O"]]
    merged = [["B-LOC", "I-LOC", "O"]]
    assert score(gold, gold)["support"] == 2
    s = score(gold, merged)
    assert s["precision"] == 0.0 and s["recall"] == 0.0


def test_macro_average_over_types():
    gold = [["B-PER", "O", "B-LOC"]]
    pred = [["B-PER", "O", "O"]]
    s = score(gold, pred)
    assert s["macro_f1"] == pytest.approx(0.5)
    assert s["f1"] == pytest.approx(2 / 3)


def test_no_entities_anywhere_scores_zero_without_crashing():
    s = score([["O", "O"]], [["O", "O"]])
    assert s["f1"] == 0.0 and s["accuracy"] == 1.0 and s["per_type"] == {}


def test_length_mismatches_are_errors():
    with pytest.raises(LengthMismatchError, match="2 gold sentences but 1"):
        score([["O"], ["O"]], [["O"]])
    with pytest.raises(LengthMismatchError, match="sentence 0: 2 gold tags but 1"):
        score([["O", "O"]], [["O"]])


def test_token_accuracy_empty():
    assert token_accuracy([], []) == 0.0
