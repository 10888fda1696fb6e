"""The GLiNER span system: its span helpers, and training through GLiNER's
Trainer on a tiny random BERT (no download)."""
import pytest

from harness.data.multinerd import SCHEMES
from tests_support.tags import assert_scheme_tag_per_word
from systems.span.gliner import (THRESHOLD_GRID, best_threshold, flat_spans, gliner_example,
                                 windows)


def test_windows_cover_every_word_once():
    assert windows(7, 3) == [(0, 3), (3, 6), (6, 7)]
    assert windows(3, 3) == [(0, 3)]
    assert windows(0, 3) == [(0, 0)]


def test_gliner_example_has_inclusive_ends_type_names_and_drops_wide_spans():
    names = {"PER": "person", "LOC": "location"}
    rec, dropped = gliner_example(["a", "b", "c", "d"], [(0, 2, "PER"), (1, 4, "LOC")], names, 2)
    assert rec == {"tokenized_text": ["a", "b", "c", "d"], "ner": [[0, 1, "person"]]}
    assert dropped == 1


def test_flat_spans_keep_the_best_scored_and_never_overlap():
    scored = [(0, 2, "PER", 0.6), (1, 3, "ORG", 0.9), (3, 4, "LOC", 0.3), (0, 1, "PER", 0.5)]
    assert flat_spans(scored, 0.4) == [(1, 3, "ORG"), (0, 1, "PER")]
    assert flat_spans(scored, 0.2) == [(1, 3, "ORG"), (0, 1, "PER"), (3, 4, "LOC")]
    assert flat_spans(scored, 0.95) == []


def test_best_threshold_is_the_grid_value_with_the_best_f1():
    gold = [["B-PER", "O", "O"], ["O", "B-LOC", "O"]]
    # The true spans score 0.3 and 0.35, a wrong one 0.25: only 0.3 keeps both and drops it.
    scored = [[(0, 1, "PER", 0.3), (2, 3, "LOC", 0.25)], [(1, 2, "LOC", 0.35)]]
    threshold, scores = best_threshold(gold, scored, SCHEMES["B"].types)
    assert threshold == 0.3 and scores["f1"] == 1.0
    assert THRESHOLD_GRID[0] <= threshold <= THRESHOLD_GRID[-1]


def test_train_predict_save_load_round_trip(tmp_path, tiny_split):
    pytest.importorskip("gliner")
    from harness.core import get_system
    from tiny_models import tiny_bert_folder

    cls = get_system("gliner")
    model_dir = tiny_bert_folder(tmp_path / "tiny-bert")
    cfg = cls.make_config("offline", model=str(model_dir), epochs=2, batch_size=2,
                          learning_rate=1e-3, head_learning_rate=1e-3, window_words=4,
                          max_width=3)
    system = cls(SCHEMES["B"], cfg)
    history = system.train(tiny_split, tiny_split, workdir=tmp_path / "ckpt")
    assert [h["epoch"] for h in history] == [1, 2]
    for h in history:
        for key in ("train_loss", "eval_loss", "precision", "recall", "f1", "train_seconds"):
            assert h[key] is not None, key
    assert system.chosen_threshold in THRESHOLD_GRID
    # window_words 4 splits the longer sentences: every word still gets a tag.
    sentences = list(tiny_split["tokens"]) + [["ginseng"] * 9]
    pred = system.predict(sentences)
    assert_scheme_tag_per_word(pred, sentences, SCHEMES["B"])
    system.save(tmp_path / "saved")
    again = cls.load(tmp_path / "saved")
    assert again.chosen_threshold == system.chosen_threshold
    assert again.predict(sentences) == pred
    # A threshold given in the config replaces the chosen one: above every score, no entity.
    high = cls.load(tmp_path / "saved", cls.make_config("offline", model=str(model_dir),
                                                        window_words=4, threshold=1.01))
    assert all(t == "O" for p in high.predict(sentences) for t in p)


def test_gliner_counts_its_encoders_flops_on_real_sub_tokens(tmp_path):
    """The roofline's count for GLiNER is its encoder's work: torch's own count
    of the same encoder pass, less the pooler's one token a sequence."""
    pytest.importorskip("gliner")
    import torch
    from torch.utils.flop_counter import FlopCounterMode

    from harness.core import get_system
    from systems.span.gliner import encoder_of
    from tiny_models import tiny_bert_folder

    folder = tiny_bert_folder(tmp_path / "tiny-bert")
    cls = get_system("gliner")
    system = cls(SCHEMES["B"], cls.make_config("offline", model=str(folder)))
    system._build(str(folder))
    encoder = encoder_of(system.model)
    calls = []
    encoder.register_forward_pre_hook(lambda m, args, kwargs: calls.append((args, kwargs)),
                                      with_kwargs=True)
    system.predict([["Ada", "met", "York", "today"]])   # one row: no padding
    assert len(calls) == 1 and system.flops_done() > 0
    encoder.set_attn_implementation("eager")   # torch counts eager attention's products
    with FlopCounterMode(display=False) as counter, torch.no_grad():
        encoder(*calls[0][0], **calls[0][1])
    pooler = encoder.pooler.dense
    once = 2 * pooler.in_features * pooler.out_features
    assert system.flops_done() + once == counter.get_total_flops()
    assert "encoder" in system.runtime_info()["flops_counted"]
