"""A 4-bit (QLoRA) base decoding from a dequantized copy of its layers with
the LoRA update folded in (`quantized_decoding="dequantized"`).

Beside a 4-bit layer, peft runs three products a step: the layer's own
(dequantising its weight on the fly) and the adapter's two.  On a GPU that is
many small kernels and Python calls per layer, 210 adapted layers a step for
SmolLM2 (the H100 figures are in the README).  Folded, each layer runs one
product with a weight held in the compute dtype, which costs that dtype's
memory for every weight (2 bytes in bf16 against about 0.5 in nf4).  The
parameters themselves are not touched: the adapter saves as trained, and
`unfold` restores the layers.
"""
from __future__ import annotations

import functools

from harness.core.errors import ConfigError


def fold_into_dequantized(model) -> list:
    """Every LoRA layer over a 4-bit linear layer, now running one product
    with its dequantized weight plus its active adapters' update (the
    parameters are left as they are, so the adapter still saves as trained).
    Marked `runs_folded`, so the roofline leaves the adapter's matrices out."""
    from peft.tuners.lora import LoraLayer

    folded = []
    for module in model.modules():
        if isinstance(module, LoraLayer) and _is_4bit(module.get_base_layer()):
            weight, bias = folded_weight(module)
            module.forward = functools.partial(_folded_forward, weight, bias)
            module.runs_folded = True
            folded.append(module)
    return folded


def folded_bytes(modules) -> int:
    """Memory the dequantized copies of these folded layers take."""
    return sum(m.forward.args[0].nbytes for m in modules)


def unfold(modules) -> None:
    """The layers of `fold_into_dequantized` running as trained again."""
    for module in modules:
        del module.forward, module.runs_folded


def _is_4bit(layer) -> bool:
    return type(getattr(layer, "weight", None)).__name__ == "Params4bit"


def folded_weight(module):
    """(weight, bias) in the layer's compute dtype: the 4-bit weight as the
    layer applies it, and the active adapters' updates added in fp32, rounded once."""
    import torch

    if any(module.use_dora.get(name, False) for name in module.active_adapters):
        raise ConfigError("quantized_decoding 'dequantized' folds plain LoRA updates; "
                          "this adapter uses DoRA")
    base = module.get_base_layer()
    dtype = getattr(base, "compute_dtype", None) or torch.float32
    with torch.no_grad():
        weight = applied_weight(base, dtype).float()
        for name in module.active_adapters:
            if name in module.lora_A:
                weight += module.get_delta_weight(name).float()
    bias = None if base.bias is None else base.bias.detach().to(dtype)
    return weight.to(dtype), bias


def applied_weight(layer, dtype):
    """A 4-bit layer's weight [out, in] exactly as its products use it: the
    layer run on the identity, without its bias (each output is one weight
    times one).  Read through the layer rather than by dequantising its
    storage, whose layout bitsandbytes may repack for a CPU's kernels."""
    import torch

    bias = layer.bias
    layer.bias = None
    try:
        eye = torch.eye(layer.in_features, dtype=dtype, device=layer.weight.device)
        with torch.no_grad():
            return layer(eye).t().contiguous()
    finally:
        layer.bias = bias


def _folded_forward(weight, bias, x, *args, **kwargs):
    """The layer's output as the 4-bit layer gives it: computed in the
    compute dtype, returned in the input's."""
    import torch.nn.functional as F

    return F.linear(x.to(weight.dtype), weight, bias).to(x.dtype)
