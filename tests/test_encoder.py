"""The encoder system through the real Trainer, on a tiny random BERT (no download)."""
import dataclasses

import pytest

pytest.importorskip("torch")
pytest.importorskip("transformers")

from harness.data.multinerd import SCHEMES
from harness.core import ModelNotFoundError, get_system
from systems.common.trainer_utils import history_from_log
from tests_support.tags import assert_scheme_tag_per_word
from tiny_models import tiny_bert_folder


def test_train_predict_save_load_round_trip(tmp_path, tiny_split):
    cls = get_system("bert")
    model_dir = tiny_bert_folder(tmp_path / "tiny-bert")
    cfg = cls.make_config("offline", model=str(model_dir), epochs=2, batch_size=2,
                          learning_rate=1e-3, max_length=8)
    system = cls(SCHEMES["B"], cfg)
    history = system.train(tiny_split, tiny_split, workdir=tmp_path / "ckpt")
    assert [h["epoch"] for h in history] == [1, 2]
    for h in history:
        for key in ("train_loss", "eval_loss", "accuracy", "precision", "recall", "f1",
                    "train_seconds", "eval_seconds"):
            assert h[key] is not None, key
    # max_length 8 forces windows on the 7-word sentence: every word still gets a tag.
    sentences = list(tiny_split["tokens"]) + [["ginseng"] * 9]
    pred = system.predict(sentences)
    assert_scheme_tag_per_word(pred, sentences, SCHEMES["B"])
    system.save(tmp_path / "saved")
    again = cls.load(tmp_path / "saved")
    assert again.predict(sentences) == pred


def test_missing_model_is_a_clear_error(tmp_path, tiny_split):
    cls = get_system("bert")
    system = cls(SCHEMES["B"], cls.make_config("offline", model=str(tmp_path / "no-such-model")))
    with pytest.raises(ModelNotFoundError, match="does not exist"):
        system.train(tiny_split, tiny_split, workdir=tmp_path / "w")
    with pytest.raises(ModelNotFoundError, match="no saved system"):
        cls.load(tmp_path)


def test_history_from_trainer_log():
    log = [
        {"epoch": 1.0, "train_seconds": 10.0},
        {"loss": 0.9, "epoch": 1.0},
        {"eval_loss": 0.5, "eval_f1": 0.4, "eval_precision": 0.5, "eval_recall": 0.3,
         "eval_accuracy": 0.9, "eval_runtime": 1.5, "epoch": 1.0},
        {"loss": 0.4, "epoch": 2.0},
        {"eval_loss": 0.3, "eval_f1": 0.6, "epoch": 2.0},
        {"train_runtime": 20.0, "train_loss": 0.65, "epoch": 2.0},
    ]
    h = history_from_log(log)
    assert [r["epoch"] for r in h] == [1, 2]
    assert h[0]["train_loss"] == 0.9 and h[0]["eval_loss"] == 0.5 and h[0]["train_seconds"] == 10.0
    assert h[1]["f1"] == 0.6 and h[1]["precision"] is None
    assert h[0]["eval_seconds"] == 1.5 and h[1]["eval_seconds"] is None
    # A scorer run at the epoch's end (the generative and span systems) counts as validation too.
    h = history_from_log([{"epoch": 1.0, "train_seconds": 9.0, "extra_seconds": 2.0},
                          {"eval_loss": 0.5, "eval_runtime": 1.0, "epoch": 1.0}])
    assert h[0]["eval_seconds"] == 3.0


@pytest.mark.parametrize("backend,precision", [("torch", "int8"), ("onnx", "fp32"), ("onnx", "int8")])
def test_backends_predict_on_the_saved_model(tmp_path, tiny_split, backend, precision):
    """Each backend runs the same saved model: fp32 ONNX gives torch's tags,
    int8 gives a tag for every word; the export is kept beside the model."""
    if backend == "onnx":
        pytest.importorskip("onnxruntime")
        pytest.importorskip("onnx")
    cls = get_system("bert")
    model_dir = tiny_bert_folder(tmp_path / "tiny-bert")
    cfg = cls.make_config("offline", model=str(model_dir), epochs=1, batch_size=2,
                          learning_rate=1e-3, max_length=8)
    system = cls(SCHEMES["B"], cfg)
    system.train(tiny_split, tiny_split, workdir=tmp_path / "ckpt")
    system.save(tmp_path / "saved")
    sentences = list(tiny_split["tokens"]) + [["ginseng"] * 9]
    reference = system.predict(sentences)
    other = cls.load(tmp_path / "saved", dataclasses.replace(cfg, backend=backend,
                                                             precision=precision))
    pred = other.predict(sentences)
    assert_scheme_tag_per_word(pred, sentences, SCHEMES["B"])
    if precision == "fp32":
        assert pred == reference
    if backend == "onnx":
        assert (tmp_path / "saved" / "model" / "onnx" / "model.onnx").is_file()
        assert other.runtime_info()["backend"].startswith("onnxruntime")
    assert other.runtime_info()["dtype"] == ("int8 (dynamic)" if precision == "int8" else "float32")


def test_a_backend_is_one_registered_class(tmp_path, tiny_split):
    """Adding an encoder backend: one class registered by name.  This one runs
    the model traced by TorchScript; it gives torch's tags."""
    import torch

    from systems.encoder.backends import BACKENDS, Backend, register_backend

    @register_backend("torchscript")
    class TracedForward(Backend):
        def __init__(self, model, precision, *, device, folder, threads):
            example = torch.ones((1, 4), dtype=torch.long)
            self.traced = torch.jit.trace(model.eval(), (example, example), strict=False)

        def __call__(self, input_ids, attention_mask):
            with torch.inference_mode():
                out = self.traced(torch.from_numpy(input_ids), torch.from_numpy(attention_mask))
            return out["logits"].numpy()

    try:
        cls = get_system("bert")
        cfg = cls.make_config("offline", model=str(tiny_bert_folder(tmp_path / "m")), epochs=1,
                              batch_size=2, learning_rate=1e-3, max_length=8)
        system = cls(SCHEMES["B"], cfg)
        system.train(tiny_split, tiny_split, workdir=tmp_path / "ckpt")
        system.save(tmp_path / "saved")
        traced = cls.load(tmp_path / "saved", dataclasses.replace(cfg, backend="torchscript"))
        sentences = list(tiny_split["tokens"])
        assert traced.predict(sentences) == system.predict(sentences)
        assert traced.runtime_info()["backend"] == "torchscript"
    finally:
        BACKENDS._classes.pop("torchscript", None)


def test_unknown_backend_is_a_config_error():
    from harness.core.errors import ConfigError

    cls = get_system("bert")
    with pytest.raises(ConfigError, match="backend 'tensorrt'"):
        cls(SCHEMES["B"], cls.make_config("offline", backend="tensorrt"))
    assert cls.config_requirements(cls.make_config("offline", backend="onnx")) == (
        "onnx", "onnxruntime")
