"""One decoding step's forward pass: the transformer body, then the
vocabulary head computed as W·hᵀ rather than h·Wᵀ.

The head is the step's largest matrix product (49,152 x 576 for SmolLM2).
On 2 AMD EPYC cores (AVX2, MKL), h·Wᵀ for a few rows runs about as slowly
as for a hundred (20 ms at 2 to 16 rows, 64 ms at 128), while W·hᵀ streams
the weight once (5 ms at 2 to 4 rows, 47 at 128).  Only models whose logits
are the head applied to the last hidden state are split this way; any other
(a soft-capped, scaled or biased head) runs whole.
"""
from __future__ import annotations

# Architectures whose causal-LM forward is exactly `lm_head(body(...))`.
PLAIN_HEADED = frozenset({"llama", "mistral", "qwen2", "qwen3"})

# From here, argmax over copied rows beats argmax across the strided view.
CONTIGUOUS_FROM_ROWS = 64


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


def step_logits(model, split, **inputs):
    """(last-position logits [rows, vocabulary], cache) of one forward pass."""
    import torch

    if split is None:
        out = model(**inputs, use_cache=True)
        return out.logits[:, -1], out.past_key_values
    body, weight = split
    out = body(**inputs, use_cache=True)
    logits = torch.mm(weight, out.last_hidden_state[:, -1].t()).t()
    if len(logits) >= CONTIGUOUS_FROM_ROWS:
        logits = logits.contiguous()
    return logits, out.past_key_values
