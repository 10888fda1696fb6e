"""vLLM as the generative tagger's engine.  Without vLLM installed: the merged
checkpoint it is given, the config checks and the skip.  With it (tox -e
vllm): the engine's answers against the harness's own decoder."""
import importlib.util

import pytest

from harness.core.errors import ConfigError
from harness.data.multinerd import SCHEMES
from harness.core.registry import get_system
from systems.llm.decoding.decoders import get_decoder
from systems.llm.formats import get_format
from systems.llm.engines import with_engine
from systems.llm.engines.vllm import merged_state_dict
from tiny_models import tiny_llama_folder

HAS_VLLM = importlib.util.find_spec("vllm") is not None


@pytest.fixture(scope="module")
def trained(tmp_path_factory, tiny_split):
    tmp = tmp_path_factory.mktemp("vllm")
    fmt = get_format("wordtag")
    corpus = [text for toks, tags in zip(tiny_split["tokens"], tiny_split["tags"])
              for text in (fmt.instruction(toks, SCHEMES["B"]), fmt.answer(toks, tags))]
    folder = tiny_llama_folder(tmp / "tiny-llama", corpus + ["[INST] [/INST]"], width=64)
    cls = get_system("llm")
    cfg = cls.make_config("offline", model=str(folder), epochs=1, batch_size=2, lora_r=4,
                          lora_alpha=8, quantization="none", eval_batch_size=2,
                          eval_generate_limit=1, decoding="constrained")
    system = cls(SCHEMES["B"], cfg)
    system.train(tiny_split, tiny_split, workdir=tmp / "ckpt")
    return system


def test_merged_checkpoint_computes_what_the_merged_adapter_does(trained, tmp_path):
    import torch
    from transformers import AutoModelForCausalLM

    ids = torch.tensor([trained.prompt_ids(["Ada", "Lovelace", "wrote", "."])])
    with trained.weights.for_decoding() as model:
        with torch.no_grad():
            expected = model(input_ids=ids).logits
        base, weights = merged_state_dict(model)
        assert not any("lora_" in k or "base_layer" in k for k in weights)
        base.save_pretrained(tmp_path, state_dict=weights)
    plain = AutoModelForCausalLM.from_pretrained(tmp_path).eval()
    with torch.no_grad():
        assert torch.allclose(plain(input_ids=ids).logits, expected, atol=1e-5)


def test_unknown_engine_is_a_config_error():
    with pytest.raises(ConfigError, match="engine 'tgi'"):
        with_engine(get_decoder("free"), "tgi")


@pytest.mark.skipif(HAS_VLLM, reason="vLLM is installed here")
def test_vllm_engine_without_vllm_is_skipped_with_the_reason():
    cls = get_system("llm")
    cfg = cls.make_config("offline", engine="vllm")
    assert cls.missing_requirements(cfg) == ["vllm"]
    assert cls.missing_requirements(cls.make_config("offline")) == []


@pytest.mark.skipif(not HAS_VLLM, reason="needs vLLM (tox -e vllm)")
@pytest.mark.parametrize("decoding, own_decoder", [("free", "free"), ("constrained", "xgrammar")])
def test_vllm_engine_writes_the_harness_decoders_answers(trained, tiny_split, decoding,
                                                         own_decoder):
    # vLLM's structured outputs mask the whole vocabulary, as the harness's
    # xgrammar decoder does; its `constrained` decoder looks at the 32 best
    # tokens only, which an untrained tiny model often leaves without a valid one.
    sentences = list(tiny_split["tokens"])
    trained.decoder = get_decoder(own_decoder)
    own = trained.generate(sentences)
    trained.decoder = with_engine(get_decoder(decoding), "vllm")
    assert trained.generate(sentences) == own
    trained.decoder.close()
