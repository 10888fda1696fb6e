"""What a maintained structured-generation library would cost per sentence.

Each sentence has its own grammar (its words, in order), so a library that
compiles grammars pays one compile per sentence.  For the first N test
sentences of benchmark B, this script takes the wordtag grammar as EBNF
(`WordTagGrammar.ebnf`, what `decoding=xgrammar` compiles) and times with
xgrammar, against the offline LLM's tokenizer:

- compiling it (`GrammarCompiler.compile_grammar`, cache off);
- the token mask at every step of the gold answer (`fill_next_token_bitmask`
  then `accept_token`), which decoding would pay per generated token;

and, for the harness's own constraint (`decoding=constrained`), building the
grammar and checking every prefix of the gold answer.

    python benchmarks/compare_grammar_cost.py [--sentences 200]
"""
from __future__ import annotations

import argparse
import json
import time

from _common import real_test_sentences


def time_xgrammar(tokenizer, vocab_size: int, sentences, answers, scheme):
    import xgrammar as xgr

    from systems.llm.formats import get_format

    info = xgr.TokenizerInfo.from_huggingface(tokenizer, vocab_size=vocab_size)
    compiler = xgr.GrammarCompiler(info, max_threads=1, cache_enabled=False)
    bitmask = xgr.allocate_token_bitmask(1, info.vocab_size)
    compile_s = mask_s = 0.0
    steps = 0
    for tokens, answer in zip(sentences, answers):
        ebnf = get_format("wordtag").grammar(tokens, scheme).ebnf()
        t0 = time.perf_counter()
        compiled = compiler.compile_grammar(ebnf)
        compile_s += time.perf_counter() - t0
        matcher = xgr.GrammarMatcher(compiled)
        t0 = time.perf_counter()
        for token in tokenizer(answer, add_special_tokens=False)["input_ids"]:
            matcher.fill_next_token_bitmask(bitmask)
            if not matcher.accept_token(token):
                raise SystemExit(f"xgrammar rejected the gold answer {answer!r} of {tokens}")
            steps += 1
        mask_s += time.perf_counter() - t0
    return compile_s, mask_s, steps


def time_harness(tokenizer, sentences, answers, scheme):
    from systems.llm.formats import get_format

    fmt = get_format("wordtag")
    t0 = time.perf_counter()
    for tokens, answer in zip(sentences, answers):
        grammar = fmt.grammar(tokens, scheme)
        ids = tokenizer(answer, add_special_tokens=False)["input_ids"]
        for k in range(1, len(ids) + 1):
            if not grammar.accepts_prefix(tokenizer.decode(ids[:k]).rstrip("\ufffd")):
                raise SystemExit(f"the grammar rejected a prefix of the gold answer {answer!r}")
    return time.perf_counter() - t0


def main() -> None:
    ap = argparse.ArgumentParser()
    ap.add_argument("--sentences", type=int, default=200)
    args = ap.parse_args()

    from transformers import AutoConfig, AutoTokenizer

    from harness.data.multinerd import get_scheme
    from harness.measure.provenance import hardware, package_versions
    from harness.core.sources import resolve_llm
    from systems.llm.formats import get_format

    scheme = get_scheme("B")
    sentences, tags = real_test_sentences(args.sentences, "B")
    answers = [get_format("wordtag").answer(s, t) for s, t in zip(sentences, tags)]
    source = resolve_llm("smollm2-135m-instruct")
    tokenizer = AutoTokenizer.from_pretrained(source)
    vocab = AutoConfig.from_pretrained(source).vocab_size
    compile_s, mask_s, steps = time_xgrammar(tokenizer, vocab, sentences, answers, scheme)
    ours_s = time_harness(tokenizer, sentences, answers, scheme)
    n = len(sentences)
    print(json.dumps({
        "sentences": n, "answer_tokens": steps, "hardware": hardware(),
        "versions": package_versions(("xgrammar", "transformers")),
        "xgrammar_compile_ms_per_sentence": 1000 * compile_s / n,
        "xgrammar_mask_ms_per_token": 1000 * mask_s / max(steps, 1),
        "harness_grammar_ms_per_sentence_all_prefixes": 1000 * ours_s / n,
    }, indent=2))


if __name__ == "__main__":
    main()
