"""One decoding step's forward pass: the transformer body, then the
vocabulary head computed as W·hᵀ rather than h·Wᵀ.

The head is the step's largest matrix product (49,152 x 576 for SmolLM2).
On 2 AMD EPYC cores (AVX2, MKL), h·Wᵀ for a few rows runs about as slowly
as for a hundred (20 ms at 2 to 16 rows, 64 ms at 128), while W·hᵀ streams
the weight once (5 ms at 2 to 4 rows, 47 at 128).  Only models whose logits
are the head applied to the last hidden state are split this way; any other
(a soft-capped, scaled or biased head) runs whole.

The same holds for every linear layer while a pass has few rows
(`skinny_linears`, on a CPU): MKL runs W·xᵀ faster than x·Wᵀ for a few rows,
and one row faster doubled than alone (its matrix-vector path); from 64 rows
x·Wᵀ is faster.  The measured ratios are in the commit that made this change
and in the README.
"""
from __future__ import annotations

import contextlib
import functools

from systems.llm.decoding.cache import returned_cache, with_cache

# Architectures whose causal-LM forward is exactly `lm_head(body(...))`.
PLAIN_HEADED = frozenset({"llama", "mistral", "qwen2", "qwen3"})

# From here, argmax over copied rows beats argmax across the strided view.
CONTIGUOUS_FROM_ROWS = 64

# Up to this many rows, a linear layer runs as W·xᵀ while decoding on a CPU.
SKINNY_ROWS = 32


def split_head(model):
    """(body, head weight) of a causal LM whose logits are its last hidden
    state times the head weight, or None."""
    import torch

    base = model.get_base_model() if hasattr(model, "get_base_model") else model
    head = getattr(base, "lm_head", None)
    if (getattr(base.config, "model_type", None) not in PLAIN_HEADED
            or type(head) is not torch.nn.Linear or head.bias is not None):
        return None
    return base.get_decoder(), head.weight


def step_logits(model, split, cache, **inputs):
    """(last-position logits [rows, vocabulary], cache) of one forward pass
    over `cache`."""
    if split is None:
        out = model(**with_cache(model, cache, **inputs), use_cache=True)
        return out.logits[:, -1], returned_cache(out)
    body, weight = split
    out = body(**with_cache(body, cache, **inputs), use_cache=True)
    logits = weight_first_product(weight, out.last_hidden_state[:, -1])
    if len(logits) >= CONTIGUOUS_FROM_ROWS:
        logits = logits.contiguous()
    return logits, returned_cache(out)


def weight_first_product(weight, x):
    """x·Wᵀ computed as (W·xᵀ)ᵀ, a view; one row is doubled to keep MKL
    off its slower matrix-vector path."""
    import torch

    if len(x) == 1:
        return torch.mm(weight, torch.cat([x, x]).t()).t()[:1]
    return torch.mm(weight, x.t()).t()


@contextlib.contextmanager
def skinny_linears(model):
    """Within this block, each `nn.Linear` of `model` on a CPU runs inputs
    of at most SKINNY_ROWS rows as W·xᵀ (the same product, summed in
    another order); larger inputs, and layers on other devices, are left as
    they are."""
    import torch

    linears = [m for m in model.modules() if type(m) is torch.nn.Linear
               and m.weight.device.type == "cpu"]
    for m in linears:
        m.forward = functools.partial(_skinny_forward, m)
    try:
        yield model
    finally:
        for m in linears:
            del m.forward


def _skinny_forward(linear, x):
    import torch

    rows = x.numel() // x.shape[-1]
    if rows > SKINNY_ROWS:
        return torch.nn.functional.linear(x, linear.weight, linear.bias)
    out = weight_first_product(linear.weight, x.reshape(rows, x.shape[-1]))
    if linear.bias is not None:
        out = out + linear.bias
    return out.contiguous().view(*x.shape[:-1], out.shape[-1])
