import pytest

from harness.core.labels import LabelScheme, UnknownLabelError, split_tag
from harness.data.multinerd import MULTINERD_ID2TAG, MULTINERD_TYPES, SCHEMES, get_scheme


def test_multinerd_ids_follow_the_dataset_card():
    assert MULTINERD_ID2TAG[0] == "O"
    assert MULTINERD_ID2TAG[1] == "B-PER" and MULTINERD_ID2TAG[2] == "I-PER"
    assert MULTINERD_ID2TAG[7] == "B-ANIM"
    assert MULTINERD_ID2TAG[13] == "B-DIS"
    assert MULTINERD_ID2TAG[25] == "B-PLANT"
    assert MULTINERD_ID2TAG[30] == "I-VEHI"
    assert len(MULTINERD_ID2TAG) == 31


def test_scheme_a_keeps_every_type():
    a = SCHEMES["A"]
    assert a.types == MULTINERD_TYPES
    assert len(a.labels) == 31
    for tag in MULTINERD_ID2TAG.values():
        assert a.map_tag(tag) == tag


def test_scheme_b_maps_by_name_not_by_id():
    b = SCHEMES["B"]
    assert b.labels == ("O", "B-PER", "I-PER", "B-ORG", "I-ORG", "B-LOC", "I-LOC",
                        "B-DIS", "I-DIS", "B-ANIM", "I-ANIM")
    # DIS is MultiNERD id 13 but scheme id 7: the mapping goes through the name.
    assert b.map_tag(MULTINERD_ID2TAG[13]) == "B-DIS"
    assert b.label2id["B-DIS"] == 7
    assert b.map_tag(MULTINERD_ID2TAG[7]) == "B-ANIM"
    for dropped in ("B-BIO", "I-CEL", "B-EVE", "B-FOOD", "I-INST", "B-MEDIA", "B-MYTH",
                    "B-PLANT", "I-TIME", "B-VEHI"):
        assert b.map_tag(dropped) == "O"


def test_unknown_tags_and_ids_are_errors():
    b = get_scheme("B")
    with pytest.raises(UnknownLabelError, match="unknown entity type 'XYZ'"):
        b.map_tag("B-XYZ")
    with pytest.raises(UnknownLabelError, match="not an IOB2 tag"):
        split_tag("PER")
    with pytest.raises(UnknownLabelError, match="not in scheme B"):
        b.check_tag("B-FOOD")
    with pytest.raises(UnknownLabelError, match="known: A, B"):
        get_scheme("C")


def test_a_scheme_is_checked_against_its_own_dataset_tag_set():
    conll = LabelScheme("X", ("MISC",), inventory=("PER", "MISC"))
    assert conll.map_tag("B-PER") == "O" and conll.map_tag("I-MISC") == "I-MISC"
    with pytest.raises(UnknownLabelError, match="not in the dataset's tag set"):
        LabelScheme("Y", ("FOOD",), inventory=("PER", "MISC"))
    with pytest.raises(UnknownLabelError, match="unknown entity type 'FOOD'"):
        conll.map_tag("B-FOOD")   # a MultiNERD type is not a type of this dataset
    assert LabelScheme.from_dict(SCHEMES["B"].to_dict()) == SCHEMES["B"]
    assert SCHEMES["A"].describe("CEL") == "celestial body" and conll.describe("MISC") == "MISC"
