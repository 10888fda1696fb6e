"""LoRA and QLoRA for the generative tagger: loading the base model, adding
the adapter on every linear layer, training it with the Trainer, and folding
it into the base weights for decoding.

On CUDA (or when asked) the base model is loaded in 4-bit nf4 with double
quantisation and bf16 compute (QLoRA); without CUDA it is plain LoRA on an
fp32 base, and the notes say so.
"""
from __future__ import annotations

import contextlib
from pathlib import Path

from harness.core import distributed
from harness.core.errors import ConfigError, ModelNotFoundError
from harness.core.sources import unloadable

from systems.llm.decoding.folding import fold_into_dequantized, unfold

LORA_TARGETS = ["q_proj", "k_proj", "v_proj", "o_proj", "gate_proj", "up_proj", "down_proj"]


def use_4bit(quantization: str) -> bool:
    """auto: nf4 on CUDA, none elsewhere; or "nf4" / "none" as asked."""
    import torch

    if quantization not in ("auto", "nf4", "none"):
        raise ConfigError(f"quantization {quantization!r}; known: auto, nf4, none")
    return quantization == "nf4" or (quantization == "auto" and torch.cuda.is_available())


def compute_dtype_name(quantized: bool) -> str:
    import torch

    return "bfloat16" if quantized and torch.cuda.is_available() else "float32"


def _load_kwargs(quantized: bool, notes: list[str]) -> dict:
    import torch

    cuda = torch.cuda.is_available()
    if quantized:
        from transformers import BitsAndBytesConfig

        compute = compute_dtype_name(True)
        kwargs = {"quantization_config": BitsAndBytesConfig(
            load_in_4bit=True, bnb_4bit_quant_type="nf4", bnb_4bit_use_double_quant=True,
            bnb_4bit_compute_dtype=getattr(torch, compute))}
        notes.append(f"base model in 4-bit nf4 (double quantisation, {compute} compute): QLoRA")
    else:
        kwargs = {"dtype": torch.float32}
        notes.append("LoRA on an fp32 base model" if cuda else
                     "no CUDA: plain LoRA on an fp32 base model (no 4-bit quantisation)")
    if cuda:   # each torchrun process holds its own copy on its own GPU, and predicts there
        kwargs["device_map"] = {"": distributed.local_rank()}
    return kwargs


def load_base(source: str, quantized: bool, notes: list[str]):
    """(model, tokenizer) of the base LLM, 4-bit when `quantized`."""
    from transformers import AutoModelForCausalLM, AutoTokenizer

    kwargs = _load_kwargs(quantized, notes)
    try:
        tokenizer = AutoTokenizer.from_pretrained(source)
        model = AutoModelForCausalLM.from_pretrained(source, **kwargs)
    except OSError as err:
        raise unloadable(source, err) from None
    if tokenizer.pad_token_id is None:
        tokenizer.pad_token = tokenizer.eos_token
    return model, tokenizer


def add_adapter(model, cfg, quantized: bool, notes: list[str]):
    """A fresh LoRA adapter on all attention and MLP projections."""
    from peft import LoraConfig, get_peft_model, prepare_model_for_kbit_training

    if quantized:
        model = prepare_model_for_kbit_training(
            model, use_gradient_checkpointing=cfg.gradient_checkpointing)
    elif cfg.gradient_checkpointing:
        model.gradient_checkpointing_enable()
        model.enable_input_require_grads()
    model = get_peft_model(model, LoraConfig(
        r=cfg.lora_r, lora_alpha=cfg.lora_alpha, lora_dropout=cfg.lora_dropout,
        target_modules=LORA_TARGETS, bias="none", task_type="CAUSAL_LM"))
    trainable, total = model.get_nb_trainable_parameters()
    notes.append(f"LoRA r={cfg.lora_r} alpha={cfg.lora_alpha} on {', '.join(LORA_TARGETS)}: "
                 f"{trainable:,} trainable of {total:,} parameters")
    return model


def load_adapter(base, folder: Path):
    from peft import PeftModel

    if not Path(folder).is_dir():
        raise ModelNotFoundError(f"{folder}: saved adapter not found")
    return PeftModel.from_pretrained(base, str(folder))


# How a 4-bit base decodes: "beside", the adapter beside the 4-bit layers as trained;
# "dequantized", each layer's weight dequantized once to the compute dtype with the
# adapter added (one rounding), so a step runs one product per layer instead of a
# dequantising 4-bit product and two adapter products (more memory: 2 bytes a weight in bf16).
QUANTIZED_DECODING = ("beside", "dequantized")


def check_quantized_decoding(value: str) -> str:
    if value not in QUANTIZED_DECODING:
        raise ConfigError(f"quantized_decoding {value!r}; known: {', '.join(QUANTIZED_DECODING)}")
    return value


class AdapterWeights:
    """Where the LoRA update sits: beside the base weights (as trained) or
    folded into them.  Folded, decoding does one matmul per layer instead of
    three.  A 4-bit base cannot take the update exactly; with `quantized_decoding`
    "dequantized" its layers decode from a dequantized copy that holds it
    (`fold_into_dequantized`), otherwise the update stays beside."""

    def __init__(self, model, quantized: bool, quantized_decoding: str = "beside"):
        self.model = model
        self.quantized = quantized
        self.quantized_decoding = quantized_decoding   # checked with the tagger's config
        self.merged = False
        self.folded: list = []   # layers decoding from a dequantized copy (fold_into_dequantized)

    @contextlib.contextmanager
    def for_decoding(self, keep_merged: bool = True):
        """Fold the adapter in while decoding.  With `keep_merged` it stays
        folded afterwards (one-sentence calls then pay for no merge); without
        it (validation during training) it is taken out again on exit.  A 4-bit
        base is folded only with `keep_merged`: validation during training
        decodes the layers as trained, and holds no dequantized copy."""
        from peft import PeftModel

        if isinstance(self.model, PeftModel) and not self.merged:
            if not self.quantized:
                self.model.merge_adapter()
                self.merged = True
            elif self.quantized_decoding == "dequantized" and keep_merged:
                self.folded = fold_into_dequantized(self.model)
                self.merged = True
        try:
            yield self.model
        finally:
            if self.merged and not keep_merged:
                self._take_out()

    def _take_out(self) -> None:
        if self.folded:
            unfold(self.folded)
            self.folded = []
        else:
            self.model.unmerge_adapter()
        self.merged = False

    def describe(self) -> str:
        if not self.quantized:
            return "merged while decoding"
        if self.quantized_decoding == "dequantized":
            return (f"folded into a dequantized {compute_dtype_name(True)} copy of the 4-bit "
                    f"base while decoding")
        return "adapter beside the 4-bit base"
