"""LoRA dropout with cheaper masks on CPU.

On CPU, `torch.nn.Dropout` draws one Mersenne-Twister number per element;
for SmolLM2's 210 LoRA branches that was a large share of a training step.  Here each
64-bit random word gives four 15-bit draws, and an element is kept when its
draw is at least round(p * 2**15): a keep probability within 2**-16 of 1 - p,
and the kept elements are scaled by its exact inverse, so the expectation is
unchanged.  Other devices keep torch's dropout.
"""
from __future__ import annotations

import torch
import torch.nn.functional as F

LEVELS = 1 << 15   # a 16-bit piece of a random word without its top bit


class WordDropout(torch.nn.Module):
    def __init__(self, p: float):
        super().__init__()
        self.p = p
        self.cut = round(p * LEVELS)

    def forward(self, x):
        if not self.training or self.cut == 0 or x.device.type != "cpu":
            return F.dropout(x, self.p, self.training)
        # random_() on int64 fills the low 63 bits, so every 15-bit piece is uniform.
        words = torch.empty((x.numel() + 3) // 4, dtype=torch.int64).random_()
        draws = words.view(torch.int16)[: x.numel()].view(x.shape) & (LEVELS - 1)
        keep = (draws >= self.cut) * (LEVELS / (LEVELS - self.cut))
        return x * keep.to(x.dtype)

    def extra_repr(self) -> str:
        return f"p={self.p}, keep={(LEVELS - self.cut) / LEVELS:.6f}"


def use_word_dropout(model) -> int:
    """Swap every LoRA branch's dropout for `WordDropout`; how many were swapped."""
    swapped = 0
    for module in model.modules():
        branches = getattr(module, "lora_dropout", None)
        if not isinstance(branches, torch.nn.ModuleDict):
            continue
        for name, drop in branches.items():
            if isinstance(drop, torch.nn.Dropout) and drop.p > 0:
                branches[name] = WordDropout(drop.p)
                swapped += 1
    return swapped
