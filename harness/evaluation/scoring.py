"""Re-score predictions made anywhere against a benchmark's gold, without a model.

Predictions are JSONL (``tokens`` and ``pred`` tag strings per line, as the
harness writes them) or the ``sentence|gold|predicted`` CSV of "word:TAG, ..."
lists that generative taggers often publish, parsed by `answers.parse_wordtag`
(the parser of the LLM tagger's wordtag format).  Gold is read by the
benchmark's own reader; sentences are matched to gold by their tokens, and
gold tags are mapped to the scheme by name.
"""
from __future__ import annotations

import csv
from collections import defaultdict, deque
from pathlib import Path

from harness.data.answers import parse_wordtag
from harness.data.benchmarks import Benchmark
from harness.data.corpus import text_lines
from harness.core.errors import DataError, UnknownLabelError
from harness.data.conll import first_line, read_conll
from harness.evaluation.analysis import bootstrap_f1_ci, error_taxonomy, repairs, word_tag_scores
from harness.core.labels import LabelScheme
from harness.evaluation.metrics import score
from harness.data.predictions import read_predictions


def read_predictions_csv(path: Path, scheme: LabelScheme) -> tuple[list[tuple[list[str], list[str]]], dict]:
    """`sentence|gold|predicted` rows; tokens are the sentence split on spaces."""
    path = Path(path)
    text = "".join(line for _, line in text_lines(path))
    first = text.splitlines()[0] if text.strip() else ""
    delimiter = max("|,\t", key=first.count)
    reader = csv.DictReader(text.splitlines(), delimiter=delimiter)
    if not reader.fieldnames or not {"sentence", "predicted"} <= set(reader.fieldnames):
        raise DataError(f"{path}:1: expected a header with 'sentence' and 'predicted' columns")
    rows, counts = [], {"malformed_items": 0, "hallucinated_entities": 0}
    for lineno, rec in enumerate(reader, 2):
        if rec.get("sentence") is None or rec.get("predicted") is None:
            raise DataError(f"{path}:{lineno}: missing field 'sentence' or 'predicted'")
        tokens = rec["sentence"].split()
        parsed = parse_wordtag(rec["predicted"], tokens, scheme)
        counts["malformed_items"] += parsed.malformed
        counts["hallucinated_entities"] += parsed.hallucinated
        rows.append((tokens, parsed.tags))
    if not rows:
        raise DataError(f"{path}: empty file: no predictions")
    return rows, counts


def prediction_format(path: Path) -> str:
    """'jsonl', 'csv' (sentence|gold|predicted) or 'conll', from the file's first line."""
    head = first_line(path)
    if head.lstrip().startswith("{"):
        return "jsonl"
    suffix = Path(path).suffix.lower()
    if suffix in (".csv", ".psv") or (suffix == ".tsv" and "sentence" in head and "predicted" in head):
        return "csv"   # a .tsv without that header is read as CoNLL columns
    return "conll"


def _predictions(pred_path: Path, scheme: LabelScheme) -> tuple[str, list, dict]:
    kind = prediction_format(pred_path)
    if kind == "csv":
        preds, counts = read_predictions_csv(pred_path, scheme)
        return kind, preds, counts
    if kind == "jsonl":
        return kind, [(r.tokens, r.pred) for r in read_predictions(pred_path, scheme)], {}
    return kind, read_conll(pred_path, scheme), {}


def _matched(gold_path: Path, preds, bench: Benchmark):
    """Gold sentences of the file, each with the prediction whose tokens match
    it (none: scored as predicting no entity); (tokens, gold, pred, missing, unmatched)."""
    gold_split, scheme = bench.read_gold(Path(gold_path)), bench.scheme
    by_tokens: dict[tuple, deque] = defaultdict(deque)
    for tokens, tags in preds:
        by_tokens[tuple(tokens)].append(tags)
    tokens_all, gold, pred, missing = [], [], [], 0
    for tokens, names in zip(gold_split.tokens, gold_split.tags):
        queue = by_tokens.get(tuple(tokens))
        missing += not queue
        pred.append(queue.popleft() if queue else ["O"] * len(tokens))
        try:
            gold.append([scheme.map_tag(t) for t in names])
        except UnknownLabelError as err:
            raise DataError(f"{gold_path}: gold sentence {len(gold) + 1}: {err}") from None
        tokens_all.append(tokens)
    return tokens_all, gold, pred, missing, sum(len(q) for q in by_tokens.values())


def score_files(gold_path: Path | None, pred_path: Path, bench: Benchmark,
                seed: int = 0) -> dict:
    """Scores of a predictions file (JSONL, sentence|gold|predicted CSV, or a CoNLL
    column file) against gold: the file in `gold_path`, read by the benchmark's
    reader, or a three-column
    CoNLL file's own gold column when `gold_path` is None."""
    scheme = bench.scheme
    kind, preds, parse_counts = _predictions(pred_path, scheme)
    if gold_path is None:
        if kind != "conll" or preds[0].gold is None:
            raise DataError(f"{pred_path}: holds no gold tags (only a three-column CoNLL file "
                            f"does); give --gold")
        tokens_all = [s.tokens for s in preds]
        gold, pred, missing, unmatched = [s.gold for s in preds], [s.pred for s in preds], 0, 0
    else:
        pairs = [(s.tokens, s.pred) for s in preds] if kind == "conll" else preds
        tokens_all, gold, pred, missing, unmatched = _matched(gold_path, pairs, bench)
    s = score(gold, pred)
    rep = repairs(gold, pred)
    return {
        "gold": str(gold_path or pred_path), "predictions": str(pred_path), "format": kind,
        "scheme": scheme.name,
        "precision": s["precision"], "recall": s["recall"], "f1": s["f1"],
        **{f"conlleval_{k}": v for k, v in rep["conlleval"].items()},
        "invalid_transitions": rep["invalid_transitions"],
        "repairs": {"conlleval": rep["conlleval"]["f1"], "discard": rep["discard"]["f1"]},
        "macro_f1": s["macro_f1"], "accuracy": s["accuracy"],
        "f1_ci95": bootstrap_f1_ci(gold, pred, seed=seed)["ci95"],
        "per_type": s["per_type"], "sentences": len(gold), "missing": missing,
        "unmatched_predictions": unmatched, "matched": len(gold) - missing,
        "error_taxonomy": error_taxonomy(gold, pred),
        "word_tag": word_tag_scores(tokens_all, gold, pred),
        **parse_counts,
    }


def render_score_markdown(r: dict) -> str:
    from tabulate import tabulate

    head = tabulate([[f"{r['precision']:.4f}", f"{r['recall']:.4f}", f"{r['f1']:.4f}",
                      f"[{r['f1_ci95'][0]:.4f}, {r['f1_ci95'][1]:.4f}]",
                      f"{r['conlleval_precision']:.4f}", f"{r['conlleval_recall']:.4f}",
                      f"{r['conlleval_f1']:.4f}", r["invalid_transitions"], r["sentences"],
                      r["missing"], r["unmatched_predictions"]]],
                    headers=["P (strict)", "R (strict)", "F1 (strict)", "F1 95% CI",
                             "P (conlleval)", "R (conlleval)", "F1 (conlleval)",
                             "invalid transitions", "sentences", "missing",
                             "unmatched predictions"], tablefmt="github", disable_numparse=True)
    types = tabulate([[t, f"{v['precision']:.4f}", f"{v['recall']:.4f}", f"{v['f1']:.4f}",
                       v["support"]] for t, v in r["per_type"].items()],
                     headers=["type", "precision", "recall", "F1", "support"], tablefmt="github",
                     disable_numparse=True)
    note = ("Strict: IOB2 as seqeval's strict mode reads it (a stray I-X opens nothing; the "
            "same as SeqScore's discard repair). conlleval: a stray I-X opens an entity, as "
            "conlleval.pl and seqeval's default mode read it. They differ only where the "
            "predictions have invalid transitions.")
    return (f"# Scores: {r['predictions']} against {r['gold']} (scheme {r['scheme']})\n\n"
            f"{head}\n\n{note}\n\n{types}\n")
