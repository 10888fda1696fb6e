import pytest

pytest.importorskip("transformers")

from systems.common.alignment import IGNORE_INDEX, make_windows, special_affixes, window_labels
from tiny_models import tiny_bert_tokenizer


@pytest.fixture(scope="module")
def tok(tmp_path_factory):
    return tiny_bert_tokenizer(tmp_path_factory.mktemp("tok"))


def test_first_subtoken_carries_the_label(tok):
    words = ["Ada", "Lovelace", "ate", "ginseng"]   # love ##lace, gin ##seng
    (w,) = make_windows(tok, [words], max_length=32)
    assert tok.convert_ids_to_tokens(w.input_ids) == [
        "[CLS]", "ada", "love", "##lace", "ate", "gin", "##seng", "[SEP]"]
    assert w.first_subtoken == [1, 2, 4, 5]
    labels = window_labels(w, [1, 2, 0, 7])
    assert labels == [IGNORE_INDEX, 1, 2, IGNORE_INDEX, 0, 7, IGNORE_INDEX, IGNORE_INDEX]


def test_special_affixes(tok):
    assert special_affixes(tok) == ([tok.cls_token_id], [tok.sep_token_id])


def test_long_sentence_is_split_into_windows_covering_every_word(tok):
    words = ["ginseng"] * 10  # 20 sub-tokens
    windows = make_windows(tok, [words], max_length=8)  # 6 sub-tokens per window
    assert [w.start for w in windows] == [0, 3, 6, 9]
    assert sum(w.n_words for w in windows) == 10
    assert all(len(w.input_ids) <= 8 for w in windows)
    labels = [3] * 10
    for w in windows:
        assert sum(l != IGNORE_INDEX for l in window_labels(w, labels)) == w.n_words


def test_unknown_and_empty_words_still_get_a_slot(tok):
    (w,) = make_windows(tok, [["zzz", "\u200b", "ate"]], max_length=16)
    assert w.n_words == 3
