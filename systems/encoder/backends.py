"""Where the token classifier's forward pass runs when it predicts.

A backend is one class, registered by name (``--set bert.backend=NAME``): it
wraps a trained model and maps padded ``input_ids`` and ``attention_mask``
arrays (int64, batch x length) to logits as a numpy array.  The length-sorted
batching in front of it is the system's and is the same for every backend.

- ``torch``: the model itself; ``int8`` is torch's dynamic quantisation of
  the linear layers (``torch.ao.quantization.quantize_dynamic``).
- ``onnx``: the model exported once to ONNX (beside the saved model) and run
  by ONNX Runtime; ``int8`` is ORT's dynamic quantisation of that export.
"""
from __future__ import annotations

import sys
import warnings
from pathlib import Path

from harness.core.errors import ConfigError
from harness.core.named import NamedClasses

PRECISIONS = ("fp32", "int8")
ONNX_OPSET = 17


class Backend:
    """A trained encoder's forward pass for prediction."""

    name: str
    requires: tuple[str, ...] = ()     # import names beyond the system's own

    def __init__(self, model, precision: str, *, device, folder: Path, threads: int):
        raise NotImplementedError

    def __call__(self, input_ids, attention_mask):
        raise NotImplementedError

    @property
    def runs_on(self) -> str:
        """The device the products run on ("cpu", "cuda:0")."""
        return "cpu"

    def label(self) -> str:
        """What the latency table names it by."""
        return self.name


BACKENDS: NamedClasses[Backend] = NamedClasses("encoder backend")
register_backend = BACKENDS.register


def check(backend: str, precision: str) -> None:
    BACKENDS.get(backend)
    if precision not in PRECISIONS:
        raise ConfigError(f"precision {precision!r}; known: {', '.join(PRECISIONS)}")


def requirements(backend: str) -> tuple[str, ...]:
    """Import names a backend needs beyond the system's own."""
    return BACKENDS.get(backend).requires


@register_backend("torch")
class TorchForward(Backend):
    def __init__(self, model, precision: str, *, device, folder: Path, threads: int):
        import torch

        self.device = device
        self.model = model.to(device).eval()
        if precision == "int8":
            self.model = torch.ao.quantization.quantize_dynamic(
                self.model.cpu(), {torch.nn.Linear}, dtype=torch.qint8)
            self.device = torch.device("cpu")   # dynamic int8 kernels are CPU kernels

    def __call__(self, input_ids, attention_mask):
        import torch

        with torch.inference_mode():
            out = self.model(input_ids=torch.from_numpy(input_ids).to(self.device),
                             attention_mask=torch.from_numpy(attention_mask).to(self.device))
        return out.logits.float().cpu().numpy()

    @property
    def runs_on(self) -> str:
        return str(self.device)


def export_onnx(model, target: Path) -> Path:
    """The model as ONNX with batch and length left free; kept and reused."""
    import torch

    if target.is_file():
        return target
    target.parent.mkdir(parents=True, exist_ok=True)
    print(f"[harness] exporting the encoder to ONNX at {target} (once)", file=sys.stderr)
    example = torch.ones((2, 8), dtype=torch.long)
    free = {0: "batch", 1: "length"}
    tmp = target.with_suffix(".partial")
    # The tracer warns about Python branches on shapes; for an encoder they take the
    # same way for every batch (the mask always has the ids' length; attention is not causal).
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")
        torch.onnx.export(model.cpu().eval(), (example, example), str(tmp),
                          input_names=["input_ids", "attention_mask"], output_names=["logits"],
                          dynamic_axes={"input_ids": free, "attention_mask": free, "logits": free},
                          opset_version=ONNX_OPSET, dynamo=False)
    tmp.rename(target)
    return target


def quantize_onnx(fp32: Path) -> Path:
    """ORT's dynamic int8 quantisation of an export (weights int8, activations
    quantised per batch); kept and reused."""
    from onnxruntime.quantization import QuantType, quantize_dynamic

    target = fp32.with_name(fp32.stem + ".int8.onnx")
    if not target.is_file():
        tmp = target.with_suffix(".partial")
        quantize_dynamic(str(fp32), str(tmp), weight_type=QuantType.QInt8)
        tmp.rename(target)
    return target


@register_backend("onnx")
class OnnxForward(Backend):
    requires = ("onnx", "onnxruntime")

    def __init__(self, model, precision: str, *, device, folder: Path, threads: int):
        import onnxruntime as ort

        path = export_onnx(model, folder / "model.onnx")
        if precision == "int8":
            path = quantize_onnx(path)
        options = ort.SessionOptions()
        options.intra_op_num_threads = threads
        options.graph_optimization_level = ort.GraphOptimizationLevel.ORT_ENABLE_ALL
        self.session = ort.InferenceSession(str(path), options, providers=["CPUExecutionProvider"])
        self.version = ort.__version__

    def __call__(self, input_ids, attention_mask):
        return self.session.run(["logits"], {"input_ids": input_ids,
                                             "attention_mask": attention_mask})[0]


    def label(self) -> str:
        return f"onnxruntime {self.version}"


def make_forward(backend: str, precision: str, model, device, folder: Path,
                 threads: int) -> Backend:
    check(backend, precision)
    return BACKENDS.create(backend, model, precision, device=device, folder=folder,
                           threads=threads)
