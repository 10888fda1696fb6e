"""The model work of one decoding call, from the lengths alone (for the
roofline's achieved GFLOP/s)."""
from __future__ import annotations


def decoding_flops(model, prompts, answers, bounds, n_prefix: int) -> tuple[float, float]:
    """(prefill, decoding) FLOPs of one `decode` call, from the lengths alone.

    The shared prefix is computed once; each prompt's rest attends to it.
    Every answer token is fed back except the last one written, unless the
    row stopped at its end token (which is not kept, so all kept tokens were fed)."""
    from harness.measure.roofline import TransformerShape

    shape = TransformerShape.of(model, causal=True)
    prefill = shape.tokens_flops(n_prefix, outputs=1) if n_prefix else 0.0
    decode = 0.0
    for prompt, answer, bound in zip(prompts, answers, bounds):
        prefill += shape.tokens_flops(len(prompt) - n_prefix, n_prefix, outputs=1)
        fed = len(answer) if len(answer) < bound else len(answer) - 1
        decode += shape.tokens_flops(fed, len(prompt))
    return prefill, decode
