"""The generative tagger's training forward: where the loss's compute goes.

Only the answer tokens carry a loss, yet the model's own forward with labels
computes logits over the whole vocabulary (49k rows for SmolLM2, 32k for
Llama-2) at every position, prompt included.  And every prompt opens with the
same template head (chat markers, system message), which each row of a batch
computes again.  Three forwards, chosen by the config's `training_forward`:

- ``full``: the model's own forward and loss (what a plain Trainer run does);
- ``answer``: the body's hidden states, then the output layer and the loss at
  the answer positions only.  The same loss, to rounding;
- ``shared-prefix``: as ``answer``, and the template head goes through the
  model once per batch, its keys and values repeated for every row (so the
  gradient reaching them is the sum over rows, as when each row computes its
  own).  In eval mode it equals ``answer`` to rounding; in training, LoRA
  dropout draws one mask for the head per batch instead of one per row.
  Gradient checkpointing drops the cache, so with it this falls back to
  ``answer``.

The last two also take LoRA dropout masks from `lora_dropout.WordDropout` on
CPU, where torch's per-element draws are a large share of a step.
"""
from __future__ import annotations

from systems.common.alignment import IGNORE_INDEX
from systems.llm.decoding.cache import returned_cache, with_cache

TRAINING_FORWARDS = ("full", "answer", "shared-prefix")


def causal_parts(model):
    """(body, output layer) of a causal LM, through a peft wrapper if any."""
    causal = model.get_base_model() if hasattr(model, "get_base_model") else model
    return causal.get_decoder(), causal.get_output_embeddings()


def shares_prefix(ids, prefix_len: int) -> bool:
    """Whether every row starts with the same `prefix_len` ids (right padding)."""
    return prefix_len > 0 and bool((ids[:, :prefix_len] == ids[:1, :prefix_len]).all())


def _hidden_states(body, ids, mask, prefix_len: int):
    """Hidden states of positions `prefix_len`.. of every row; the first
    `prefix_len` (shared by all rows) computed once."""
    if not prefix_len:
        return body(input_ids=ids, attention_mask=mask, use_cache=False).last_hidden_state
    head = returned_cache(body(input_ids=ids[:1, :prefix_len], use_cache=True))
    head.batch_repeat_interleave(ids.size(0))
    return body(**with_cache(body, head, input_ids=ids[:, prefix_len:], attention_mask=mask,
                             use_cache=True)).last_hidden_state


def answer_loss(model, batch: dict, prefix_len: int = 0, num_items=None):
    """Cross-entropy of the labelled (answer) tokens, with logits computed at
    those positions only.  Summed over `num_items` when given (the Trainer's
    count across accumulated batches), else averaged."""
    import torch.nn.functional as F

    ids, labels = batch["input_ids"], batch["labels"]
    if prefix_len and not shares_prefix(ids, prefix_len):
        prefix_len = 0
    body, head = causal_parts(model)
    hidden = _hidden_states(body, ids, batch["attention_mask"], prefix_len)
    # The state at position t predicts the token at t + 1; the prompt (and so
    # the shared head) carries no labels, so none is lost by starting there.
    targets = labels[:, prefix_len + 1:]
    keep = targets != IGNORE_INDEX
    logits = head(hidden[:, :-1][keep]).float()
    loss = F.cross_entropy(logits, targets[keep], reduction="sum")
    return loss / (num_items if num_items is not None else keep.sum().clamp(min=1))


def cheaper_dropout(model, forward: str, notes: list[str]) -> None:
    """On CPU, the cheaper forwards also take LoRA dropout masks from
    `lora_dropout.WordDropout`."""
    import torch

    if forward == "full" or torch.cuda.is_available():
        return
    from systems.llm.lora_dropout import use_word_dropout

    if use_word_dropout(model):
        notes.append("LoRA dropout masks drawn four per 64-bit random word (CPU)")


def loss_trainer(forward: str, prefix_len: int):
    """A Trainer class whose loss is computed by `forward` (see the module);
    `prefix_len`: the ids every prompt starts with, 0 where they cannot be
    shared (gradient checkpointing)."""
    from transformers import Trainer

    if forward == "full":
        return Trainer
    shared = prefix_len if forward == "shared-prefix" else 0

    class AnswerLossTrainer(Trainer):
        def compute_loss(self, model, inputs, return_outputs=False, num_items_in_batch=None):
            loss = answer_loss(model, inputs, shared, num_items_in_batch)
            return (loss, {"loss": loss}) if return_outputs else loss

    return AnswerLossTrainer
