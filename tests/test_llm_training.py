"""The cheaper training forwards of the LLM tagger compute the loss and the
gradient of the model's own forward (dropout off), on a tiny random Llama."""
import pytest

torch = pytest.importorskip("torch")
pytest.importorskip("transformers")
pytest.importorskip("peft")

from systems.common.alignment import IGNORE_INDEX
from systems.llm.training import answer_loss, loss_trainer, shares_prefix
from tiny_models import tiny_llama_folder

HEAD = 5   # ids every row starts with, as a chat template's head


@pytest.fixture(scope="module")
def lora_model(tmp_path_factory):
    from peft import LoraConfig, get_peft_model
    from transformers import AutoModelForCausalLM

    folder = tiny_llama_folder(tmp_path_factory.mktemp("llama"),
                               ["ada lovelace lived in london", "PER LOC ORG"] * 20)
    torch.manual_seed(0)
    model = AutoModelForCausalLM.from_pretrained(folder, dtype=torch.float32)
    model = get_peft_model(model, LoraConfig(r=4, lora_alpha=8, lora_dropout=0.1,
                                             target_modules=["q_proj", "v_proj", "down_proj"]))
    for name, p in model.named_parameters():   # LoRA B starts at 0: make its gradient path live
        if "lora_B" in name:
            torch.nn.init.normal_(p, std=0.1)
    return model


def _batch(vocab: int, rows=((9, 4), (12, 6), (7, 3)), seed=1):
    """Right-padded rows: a shared head, a prompt, an answer; labels on the answer only."""
    gen = torch.Generator().manual_seed(seed)
    head = torch.randint(3, vocab, (HEAD,), generator=gen)
    width = max(HEAD + p + a for p, a in rows)
    ids = torch.zeros((len(rows), width), dtype=torch.long)
    mask, labels = torch.zeros_like(ids), torch.full_like(ids, IGNORE_INDEX)
    for r, (prompt, answer) in enumerate(rows):
        n = HEAD + prompt + answer
        ids[r, :HEAD] = head
        ids[r, HEAD:n] = torch.randint(3, vocab, (prompt + answer,), generator=gen)
        mask[r, :n] = 1
        labels[r, HEAD + prompt:n] = ids[r, HEAD + prompt:n]
    return {"input_ids": ids, "attention_mask": mask, "labels": labels}


def _loss_and_grads(model, loss_fn):
    model.zero_grad()
    loss = loss_fn()
    loss.backward()
    grads = {n: p.grad.clone() for n, p in model.named_parameters() if p.grad is not None}
    return loss.item(), grads


@pytest.mark.parametrize("prefix_len", [0, HEAD])
def test_answer_forward_matches_the_models_own_loss(lora_model, prefix_len):
    lora_model.eval()   # no dropout: the forwards must agree exactly
    batch = _batch(lora_model.config.vocab_size)
    ref_loss, ref_grads = _loss_and_grads(lora_model, lambda: lora_model(**batch).loss)
    loss, grads = _loss_and_grads(lora_model, lambda: answer_loss(lora_model, batch, prefix_len))
    assert loss == pytest.approx(ref_loss, rel=1e-5)
    assert ref_grads and grads.keys() == ref_grads.keys()
    for name, g in ref_grads.items():
        torch.testing.assert_close(grads[name], g, rtol=1e-4, atol=1e-6, msg=name)


def test_sum_over_the_trainers_item_count(lora_model):
    lora_model.eval()
    batch = _batch(lora_model.config.vocab_size)
    n = int((batch["labels"] != IGNORE_INDEX).sum())
    mean = answer_loss(lora_model, batch, HEAD)
    assert answer_loss(lora_model, batch, HEAD, num_items=2 * n).item() == pytest.approx(
        mean.item() / 2, rel=1e-5)


def test_rows_without_a_common_head_are_not_shared(lora_model):
    lora_model.eval()
    batch = _batch(lora_model.config.vocab_size)
    batch["input_ids"][1, 0] = (batch["input_ids"][0, 0] + 1) % lora_model.config.vocab_size
    assert not shares_prefix(batch["input_ids"], HEAD)
    assert answer_loss(lora_model, batch, HEAD).item() == pytest.approx(
        lora_model(**batch).loss.item(), rel=1e-5)


def test_full_forward_is_the_plain_trainer():
    from transformers import Trainer

    assert loss_trainer("full", 5) is Trainer
    assert issubclass(loss_trainer("shared-prefix", 5), Trainer)


def test_word_dropout_keeps_the_expectation():
    from systems.llm.lora_dropout import LEVELS, WordDropout

    drop = WordDropout(0.05)
    torch.manual_seed(0)
    x = torch.ones(200, 1000)
    y = drop(x)
    kept = (y != 0).float().mean().item()
    assert kept == pytest.approx(1 - 0.05, abs=0.003)
    assert y.mean().item() == pytest.approx(1.0, abs=0.005)
    values = torch.unique(y).tolist()
    assert values[0] == 0.0 and len(values) == 2
    assert values[1] == pytest.approx(LEVELS / (LEVELS - drop.cut), rel=1e-6)
    drop.eval()
    assert torch.equal(drop(x), x)


def test_word_dropout_replaces_lora_dropout_only(lora_model):
    import copy

    from systems.llm.lora_dropout import WordDropout, use_word_dropout

    model = copy.deepcopy(lora_model)
    assert use_word_dropout(model) == 2 * 3   # 3 targets in each of 2 layers
    kinds = {type(m).__name__ for n, m in model.named_modules() if "lora_dropout." in n}
    assert kinds == {WordDropout.__name__}
