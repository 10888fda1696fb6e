"""How far a system's prediction is from what the machine can do.

Two halves, each of one job:

- `TransformerShape` counts the FLOPs a transformer spends on tokens, from
  its shape: two per weight of every matrix product a token goes through,
  plus attention's two products against the context.  Embedding lookups,
  norms and activations are left out (they are a few percent at these sizes).
- `peak` measures the machine's matrix-product rate once per process, in
  the precision asked for, with a large square product: the figure a
  system's achieved GFLOP/s is a share of.

A system counts its FLOPs while predicting (`NERSystem.flops_done`); the
latency protocol divides them by the time taken.
"""
from __future__ import annotations

import dataclasses
import functools
import time

PEAK_SIZE = 2048          # square matrices: large enough to be compute-bound
PEAK_REPEATS = 5


@dataclasses.dataclass(frozen=True)
class TransformerShape:
    """What the FLOPs of a forward pass depend on."""

    matmul_params: int       # weights of the matrix products each token goes through
    head_params: int         # the output head's, applied only to tokens whose outputs are read
    layers: int
    attention_width: int     # query heads x head size
    causal: bool

    @classmethod
    def of(cls, model, causal: bool) -> "TransformerShape":
        """From a transformers model: the Linear layers a forward pass runs
        for each token (the classifier or LM head included; embeddings not,
        being lookups; a BERT pooler not, running on one token per sequence)
        and its attention shape."""
        import torch

        linear = sum(_weights(m) for m in _running_linears(model))
        head = model.get_output_embeddings() if hasattr(model, "get_output_embeddings") else None
        head_params = _weights(head) if isinstance(head, torch.nn.Linear) else 0
        cfg = model.config
        heads = cfg.num_attention_heads
        head_size = getattr(cfg, "head_dim", None) or cfg.hidden_size // heads
        return cls(linear - head_params, head_params, cfg.num_hidden_layers, heads * head_size,
                   causal)

    def tokens_flops(self, new_tokens: int, context_before: int = 0,
                     outputs: int | None = None) -> float:
        """FLOPs of `new_tokens` tokens that follow `context_before` cached ones,
        `outputs` of them (default: all) going through the output head.

        A token attends to the whole sequence in an encoder, and to itself
        and what came before in a causal model; each attended position costs
        two products (scores, then the weighted values) of the attention width."""
        if new_tokens <= 0:
            return 0.0
        if self.causal:
            first, last = context_before + 1, context_before + new_tokens
            attended = (first + last) * new_tokens / 2
        else:
            attended = new_tokens * (context_before + new_tokens)
        outputs = new_tokens if outputs is None else outputs
        return (2.0 * (self.matmul_params * new_tokens + self.head_params * outputs)
                + 4.0 * self.layers * self.attention_width * attended)

    def padded_batch_flops(self, mask) -> float:
        """FLOPs of a padded batch (`mask` [rows, width], 1 on real tokens,
        numpy or torch): each row's real tokens on their own, padding left out."""
        return sum(self.tokens_flops(int(n)) for n in mask.sum(-1))


def _running_linears(model) -> list:
    """The model's per-token Linear layers, less a LoRA adapter's own matrices while it
    is merged into its base layer (peft's `merged`) or folded into a copy of
    it (`runs_folded`): the forward pass then runs the merged weight alone."""
    import torch

    idle: set[int] = set()
    for name, module in model.named_modules():
        if name.rsplit(".", 1)[-1] == "pooler":   # the first token of each sequence only
            idle.update(id(m) for m in module.modules())
    for module in model.modules():
        folded = getattr(module, "merged", False) or getattr(module, "runs_folded", False)
        if folded and hasattr(module, "lora_A"):
            for name in ("lora_A", "lora_B"):
                idle.update(id(m) for m in getattr(module, name).modules())
    return [m for m in model.modules() if isinstance(m, torch.nn.Linear) and id(m) not in idle]


def _weights(linear) -> int:
    # From the shape, not the tensor: a 4-bit layer stores its weights packed.
    return linear.in_features * linear.out_features


def _time_best(fn, repeats: int) -> float:
    fn()  # warm-up: kernels chosen, memory touched
    best = float("inf")
    for _ in range(repeats):
        t0 = time.perf_counter()
        fn()
        best = min(best, time.perf_counter() - t0)
    return best


@functools.lru_cache(maxsize=None)
def peak(precision: str = "fp32", device: str = "cpu", size: int = PEAK_SIZE) -> dict:
    """The measured matrix-product rate in GFLOP/s, with how it was measured.

    fp32, bf16, fp16: `torch.matmul`.  int8 (int8 products, int32 sums): the
    faster of the int8 products the dynamic-int8 backends run on, torch's
    dynamic int8 Linear (fbgemm) and, where installed, ONNX Runtime's
    MatMulInteger (MLAS); `torch._int_mm` is a reference path on CPU and
    would understate the peak a hundredfold."""
    import torch

    candidates = _int8_products(size) if precision == "int8" else [
        _float_product(precision, device, size)]
    rates = [(2.0 * size ** 3 / _time_best(run, PEAK_REPEATS) / 1e9, method)
             for run, method in candidates]
    gflops, method = max(rates)
    return {"precision": precision, "device": device, "gflops": gflops,
            "method": f"{method}, {size}x{size} by {size}x{size}, best of {PEAK_REPEATS}",
            "threads": torch.get_num_threads()}


def _float_product(precision: str, device: str, size: int):
    import torch

    dtype = {"fp32": torch.float32, "bf16": torch.bfloat16, "fp16": torch.float16}[precision]
    a = torch.randn(size, size, dtype=dtype, device=device)
    b = torch.randn(size, size, dtype=dtype, device=device)
    sync = torch.cuda.synchronize if torch.device(device).type == "cuda" else (lambda: None)

    def run():
        torch.matmul(a, b)
        sync()
    return run, "torch.matmul"


def _int8_products(size: int) -> list:
    import importlib.util

    import torch

    linear = torch.ao.nn.quantized.dynamic.Linear(size, size, bias_=False, dtype=torch.qint8)
    x = torch.randn(size, size)

    def run_torch():
        with torch.inference_mode():
            linear(x)
    products = [(run_torch, "torch dynamic int8 Linear (fbgemm)")]
    if importlib.util.find_spec("onnxruntime") and importlib.util.find_spec("onnx"):
        products.append((_ort_matmul_integer(size), "onnxruntime MatMulInteger"))
    return products


def _ort_matmul_integer(size: int):
    import numpy as np
    import onnxruntime as ort
    import torch
    from onnx import TensorProto, helper

    graph = helper.make_graph(
        [helper.make_node("MatMulInteger", ["A", "B"], ["Y"])], "peak",
        [helper.make_tensor_value_info("A", TensorProto.UINT8, [size, size]),
         helper.make_tensor_value_info("B", TensorProto.INT8, [size, size])],
        [helper.make_tensor_value_info("Y", TensorProto.INT32, [size, size])])
    model = helper.make_model(graph, opset_imports=[helper.make_opsetid("", 17)])
    options = ort.SessionOptions()
    options.intra_op_num_threads = torch.get_num_threads()
    session = ort.InferenceSession(model.SerializeToString(), options,
                                   providers=["CPUExecutionProvider"])
    rng = np.random.default_rng(0)
    feed = {"A": rng.integers(0, 256, (size, size), dtype=np.uint8),
            "B": rng.integers(-128, 128, (size, size), dtype=np.int8)}
    return lambda: session.run(None, feed)


def precision_of(dtype: str) -> str:
    """The peak to compare with, from a runtime's dtype as the latency table shows
    it (a 4-bit base computes in its compute dtype, "nf4+bfloat16")."""
    text = str(dtype).lower()
    for key, name in (("int8", "int8"), ("bfloat16", "bf16"), ("float16", "fp16")):
        if key in text:
            return name
    return "fp32"


def peak_for(runtime: dict) -> dict:
    """The peak in the precision and on the device a system's `runtime_info` names."""
    device = "cuda" if str(runtime.get("device", "cpu")).startswith("cuda") else "cpu"
    return peak(precision_of(runtime.get("dtype", "float32")), device)
