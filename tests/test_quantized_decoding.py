"""Decoding a 4-bit (QLoRA) tagger from a dequantized copy of its layers with
the adapter folded in: the same outputs as the adapter beside the 4-bit layers,
one product per layer, and the trained parameters left as they are."""
import pytest

torch = pytest.importorskip("torch")
pytest.importorskip("transformers")
peft = pytest.importorskip("peft")

from harness.core.errors import ConfigError
from harness.measure.roofline import TransformerShape
from systems.llm.decoding import folding as llm_folding
from systems.llm import lora as llm_lora
from tiny_models import nf4_unavailable, tiny_llama_folder


@pytest.fixture(scope="module")
def qlora(tmp_path_factory):
    """A tiny Llama in nf4 (fp32 compute) with a LoRA adapter whose update is not zero."""
    reason = nf4_unavailable()
    if reason:
        pytest.skip(reason)
    from transformers import AutoModelForCausalLM, BitsAndBytesConfig

    # 64 wide: bitsandbytes' CPU kernels repack 4-bit weights in blocks of 64 input features.
    folder = tiny_llama_folder(tmp_path_factory.mktemp("llama"), ["Ada met the New York"], 64)
    base = AutoModelForCausalLM.from_pretrained(folder, quantization_config=BitsAndBytesConfig(
        load_in_4bit=True, bnb_4bit_quant_type="nf4", bnb_4bit_compute_dtype=torch.float32))
    torch.manual_seed(0)
    model = peft.get_peft_model(base, peft.LoraConfig(
        r=4, lora_alpha=8, target_modules=llm_lora.LORA_TARGETS, init_lora_weights=False))
    _logits(model.eval())
    if any(getattr(getattr(m.weight, "quant_state", None), "packing_format_for_cpu", False)
           for m in model.modules() if _is_4bit(m)):
        pytest.skip("bitsandbytes repacked the 4-bit weights at the first forward pass for its "
                    "own kernels on this CPU (packing_format_for_cpu; seen on AVX-512 hosts), "
                    "which do not compute fp32 products and change the quantisation state in "
                    "later passes: the fold's exactness holds on the dequantize-and-matmul path")
    return model


def _is_4bit(module) -> bool:
    return type(getattr(module, "weight", None)).__name__ == "Params4bit"


def _logits(model):
    ids = torch.arange(3, 40).reshape(1, -1)
    with torch.no_grad():
        return model(input_ids=ids).logits


def test_folded_layers_give_the_adapter_beside_the_4bit_layers_outputs(qlora):
    beside = _logits(qlora)
    folded = llm_folding.fold_into_dequantized(qlora)
    try:
        assert len(folded) == 2 * len(llm_lora.LORA_TARGETS)   # every adapted layer of 2
        torch.testing.assert_close(_logits(qlora), beside, rtol=1e-4, atol=1e-4)
    finally:
        llm_folding.unfold(folded)
    assert torch.equal(_logits(qlora), beside)   # unfolded: the layers as trained


def test_folding_leaves_the_trained_parameters_and_counts_one_product_a_layer(qlora):
    before = {k: v.clone() for k, v in qlora.state_dict().items()}
    unmerged = TransformerShape.of(qlora, causal=True).matmul_params
    folded = llm_folding.fold_into_dequantized(qlora)
    try:
        after = qlora.state_dict()
        assert after.keys() == before.keys()
        assert all(torch.equal(after[k], v) for k, v in before.items())
        lora = sum(m.in_features * m.out_features for n, m in qlora.named_modules()
                   if isinstance(m, torch.nn.Linear) and ".lora_" in n)
        assert lora > 0
        assert TransformerShape.of(qlora, causal=True).matmul_params == unmerged - lora
    finally:
        llm_folding.unfold(folded)


def test_the_weight_read_through_the_layer_is_its_dequantized_weight(qlora):
    import bitsandbytes.functional as F

    layer = qlora.base_model.model.model.layers[0].mlp.down_proj.get_base_layer()
    expected = F.dequantize_4bit(layer.weight.data, layer.weight.quant_state).float()
    assert torch.equal(llm_folding.applied_weight(layer, torch.float32), expected)


def test_an_unknown_quantized_decoding_is_a_config_error():
    from harness.core import get_system
    from harness.data.multinerd import SCHEMES

    cls = get_system("llm")
    config = cls.make_config("offline", quantized_decoding="bogus")
    with pytest.raises(ConfigError, match="quantized_decoding 'bogus'; known: beside, dequantized"):
        cls(SCHEMES["B"], config)
