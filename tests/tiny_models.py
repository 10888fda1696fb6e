"""Tiny randomly initialised models built in the test, so no download is needed."""
from __future__ import annotations

from pathlib import Path

SEED = 0   # the weights are random but fixed: a test's outcome must not depend on the draw

WORDS = ["ada", "love", "##lace", "lived", "in", "london", ".", "she", "ate", "gin", "##seng",
         "at", "acme", "corp", "pizza", "is", "food", "das", "ist", "berlin", "paris", "rome"]


def tiny_bert_tokenizer(folder: Path):
    from transformers import BertTokenizerFast

    folder.mkdir(parents=True, exist_ok=True)
    vocab = ["[PAD]", "[UNK]", "[CLS]", "[SEP]", "[MASK]"] + WORDS
    return BertTokenizerFast(vocab={w: i for i, w in enumerate(vocab)}, do_lower_case=True)


def tiny_bert_folder(folder: Path) -> Path:
    """A 2-layer, 32-wide BERT with its tokenizer, saved as an HF folder."""
    from transformers import BertConfig, BertModel

    tok = tiny_bert_tokenizer(folder)
    config = BertConfig(vocab_size=tok.vocab_size, hidden_size=32, num_hidden_layers=2,
                        num_attention_heads=2, intermediate_size=64, max_position_embeddings=64)
    _seeded(BertModel, config).save_pretrained(folder)
    tok.save_pretrained(folder)
    return folder


def tiny_llama_folder(folder: Path, corpus: list[str], width: int = 32) -> Path:
    """A 2-layer, `width`-wide Llama with a byte-level BPE tokenizer trained on `corpus`."""
    from tokenizers import Tokenizer, decoders, models, pre_tokenizers, trainers
    from transformers import LlamaConfig, LlamaForCausalLM, PreTrainedTokenizerFast

    bpe = Tokenizer(models.BPE())
    bpe.pre_tokenizer = pre_tokenizers.ByteLevel(add_prefix_space=False)
    bpe.decoder = decoders.ByteLevel()
    bpe.train_from_iterator(corpus, trainers.BpeTrainer(
        vocab_size=400, special_tokens=["<pad>", "<s>", "</s>"],
        initial_alphabet=pre_tokenizers.ByteLevel.alphabet()))
    tok = PreTrainedTokenizerFast(tokenizer_object=bpe, bos_token="<s>", eos_token="</s>",
                                  pad_token="<pad>")
    config = LlamaConfig(vocab_size=len(tok), hidden_size=width, intermediate_size=2 * width,
                         num_hidden_layers=2, num_attention_heads=2, num_key_value_heads=2,
                         max_position_embeddings=512, bos_token_id=tok.bos_token_id,
                         eos_token_id=tok.eos_token_id, pad_token_id=tok.pad_token_id)
    _seeded(LlamaForCausalLM, config).save_pretrained(folder)
    tok.save_pretrained(folder)
    return folder


def _seeded(model_class, config):
    """`model_class(config)` initialised from SEED, leaving the global random
    state as it was."""
    import torch

    with torch.random.fork_rng(devices=[]):
        torch.manual_seed(SEED)
        return model_class(config)


def nf4_unavailable() -> str | None:
    """None when bitsandbytes can quantise to nf4 here, else why not."""
    try:
        import bitsandbytes.functional as F
        import torch

        F.quantize_4bit(torch.randn(64, 64), quant_type="nf4")
    except Exception as err:  # missing package, no CPU backend, ...
        return f"bitsandbytes nf4 unavailable here: {type(err).__name__}: {err}"
    return None
