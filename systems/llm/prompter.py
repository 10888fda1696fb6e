"""The prompter: how a sentence becomes the generative tagger's prompt, and
gold tags its answer (as HELM's `AdapterSpec` says how a scenario is put to a
model): the prompt format, the system message, worked examples as chat turns
before the question, and the model's chat template (or Llama-2 turns for a
base model without one)."""
from __future__ import annotations

from dataclasses import dataclass
from typing import Sequence

from harness.core.labels import LabelScheme

from systems.llm.formats import PromptFormat

SYSTEM_MESSAGE = "You are a named-entity tagger."
Shot = tuple[Sequence[str], Sequence[str]]   # a worked example: tokens and gold tags


@dataclass
class Prompter:
    format: PromptFormat
    scheme: LabelScheme
    system_message: str = SYSTEM_MESSAGE
    tokenizer: object = None   # set once the model is loaded

    def messages(self, tokens: Sequence[str], shots: Sequence[Shot] = ()) -> list[dict]:
        """The chat turns that ask for `tokens`' entities, each worked example
        a user turn (its instruction) and an assistant turn (its gold answer)."""
        turns = [{"role": "system", "content": self.system_message}]
        for shot_tokens, shot_tags in shots:
            turns += [{"role": "user", "content": self.format.instruction(shot_tokens, self.scheme)},
                      {"role": "assistant", "content": self.format.answer(shot_tokens, shot_tags)}]
        return turns + [{"role": "user", "content": self.format.instruction(tokens, self.scheme)}]

    def text(self, messages: list[dict]) -> str:
        if self.tokenizer.chat_template:
            return self.tokenizer.apply_chat_template(messages, add_generation_prompt=True,
                                                      tokenize=False)
        # Llama-2 style for base models without a chat template; the first <s> comes
        # from the tokenizer, and a worked example's answer closes its turn.
        turns = {"user": "[INST] {} [/INST] \n", "assistant": "{}</s><s>"}
        return "".join(turns[m["role"]].format(m["content"]) for m in messages if m["role"] in turns)

    def ids(self, messages: list[dict]) -> list[int]:
        # A chat template writes its own BOS where it wants one.
        return self.tokenizer(self.text(messages),
                              add_special_tokens=not self.tokenizer.chat_template)["input_ids"]

    def answer_ids(self, tokens: Sequence[str], tags: Sequence[str]) -> list[int]:
        """The gold answer's ids, closed by the end token (what training teaches)."""
        answer = self.format.answer(tokens, tags)
        return (self.tokenizer(answer, add_special_tokens=False)["input_ids"]
                + [self.tokenizer.eos_token_id])

    def max_new_tokens(self, tokens: Sequence[str]) -> int:
        """No valid answer is longer than the format's longest answer."""
        longest = self.format.longest_answer(tokens, self.scheme)
        return len(self.tokenizer(longest, add_special_tokens=False)["input_ids"]) + 1
