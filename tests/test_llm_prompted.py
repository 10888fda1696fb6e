"""The prompted LLM tagger: k worked examples, no fine-tuning, on a tiny random Llama."""
import pytest

pytest.importorskip("torch")
pytest.importorskip("transformers")
pytest.importorskip("peft")

from harness.core import get_system
from harness.core.errors import ConfigError
from harness.data.multinerd import SCHEMES
from systems.llm.formats import get_format
from systems.llm.prompted import ShotPool
from tiny_models import tiny_llama_folder

POOL = [["Ada", "Lovelace", "lived", "in", "London", "."],
        ["She", "ate", "ginseng", "at", "Acme", "Corp", "."],
        ["Pizza", "is", "food", "."],
        ["London", "is", "big", "."],
        ["Acme", "Corp", "sells", "pizza", "in", "Paris", "."],
        ["Rain", "fell", "."]]


def _pool(k, selection, seed=42):
    return ShotPool(POOL, [["O"] * len(s) for s in POOL], k, selection, seed)


def test_random_examples_are_the_same_for_every_sentence_and_fixed_by_the_seed():
    a, b = _pool(3, "random"), _pool(3, "random")
    assert a.choose(["x"]) == b.choose(["x"]) == a.choose(["London", "rain"])
    assert len(set(a.choose(["x"]))) == 3
    assert any(_pool(3, "random", seed=s).choose(["x"]) != a.choose(["x"]) for s in range(5))


def test_overlap_examples_share_the_most_words_and_the_nearest_comes_last():
    pool = _pool(2, "overlap")
    chosen = pool.choose(["Pizza", "from", "Acme", "Corp"])
    assert chosen[-1] == 4                         # acme, corp and pizza
    assert set(chosen) == {4, 1} or set(chosen) == {4, 2}
    assert pool.choose(["Pizza", "from", "Acme", "Corp"]) == chosen       # deterministic
    assert _pool(2, "overlap").choose(["Pizza", "from", "Acme", "Corp"]) == chosen
    assert _pool(0, "overlap").choose(["London"]) == []
    assert len(_pool(50, "random").choose(["x"])) == len(POOL)   # k is capped by the pool
    with pytest.raises(ConfigError, match="shot_selection 'nearest'"):
        _pool(2, "nearest")


def test_prompts_carry_the_examples_and_predictions_parse(tmp_path, tiny_split):
    fmt = get_format("wordtag")
    corpus = [t for toks, tags in zip(tiny_split["tokens"], tiny_split["tags"])
              for t in (fmt.instruction(toks, SCHEMES["B"]), fmt.answer(toks, tags))]
    folder = tiny_llama_folder(tmp_path / "tiny-llama", corpus + ["[INST] [/INST]"])
    cls = get_system("llm-prompted")
    cfg = cls.make_config("offline", model=str(folder), shots=2, quantization="none",
                          eval_batch_size=2)
    assert cfg.decoding == "constrained" and cfg.epochs == 0
    system = cls(SCHEMES["B"], cfg)
    assert system.train(tiny_split, tiny_split, workdir=tmp_path / "ckpt") == []
    assert any("k = 2 in-context examples" in n for n in system.notes)
    sentence = list(tiny_split["tokens"][2])
    messages = system.messages(sentence)
    assert [m["role"] for m in messages] == ["system", "user", "assistant", "user",
                                                "assistant", "user"]
    assert messages[-1]["content"] == fmt.instruction(sentence, SCHEMES["B"])
    examples = [list(tiny_split["tokens"][i]) for i in system.pool.choose(sentence)]
    assert messages[2]["content"] == fmt.answer(examples[0], list(
        tiny_split["tags"][list(tiny_split["tokens"]).index(examples[0])]))

    sentences = list(tiny_split["tokens"])
    pred = system.predict(sentences)
    assert [len(p) for p in pred] == [len(s) for s in sentences]
    stats = system.prediction_stats()
    assert stats.sentences == 3 and stats.malformed_items == 0 and stats.hallucinated_entities == 0
    assert stats.prompt_tokens == sum(len(system.prompt_ids(s)) for s in sentences)

    system.save(tmp_path / "saved")
    again = cls.load(tmp_path / "saved")
    assert again.predict(sentences) == pred
    section = cls.report_sections(stats.to_dict())[0]
    assert "Prompts average" in section.text
