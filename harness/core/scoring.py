"""Re-score predictions made anywhere against MultiNERD gold, without a model.

Predictions are JSONL (``tokens`` and ``pred`` tag strings per line, as the
harness writes them) or the ``sentence|gold|predicted`` CSV of "word:TAG, ..."
lists that generative taggers often publish, parsed by `answers.parse_wordtag`
(the parser of the LLM tagger's wordtag format).  Sentences are matched to gold by their tokens; gold tags are
mapped to the scheme by name.
"""
from __future__ import annotations

import csv
from collections import defaultdict, deque
from pathlib import Path

from .answers import parse_wordtag
from .data import read_jsonl, text_lines
from .errors import DataError
from .evaluation import bootstrap_f1_ci, error_taxonomy, word_tag_scores
from .labels import LabelScheme
from .metrics import score
from .predictions import read_predictions


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


def score_files(gold_path: Path, pred_path: Path, scheme: LabelScheme, seed: int = 0) -> dict:
    gold_split = read_jsonl(Path(gold_path))
    parse_counts = {}
    if Path(pred_path).suffix.lower() in (".csv", ".tsv", ".psv"):
        preds, parse_counts = read_predictions_csv(pred_path, scheme)
    else:
        preds = [(r.tokens, r.pred) for r in read_predictions(pred_path, scheme)]
    by_tokens: dict[tuple, deque] = defaultdict(deque)
    for tokens, tags in preds:
        by_tokens[tuple(tokens)].append(tags)
    gold, pred, tokens_all, missing = [], [], [], 0
    for tokens, names in zip(gold_split.tokens, gold_split.tags):
        g = [scheme.map_tag(t) for t in names]
        queue = by_tokens.get(tuple(tokens))
        if queue:
            p = queue.popleft()
        else:
            missing += 1  # scored as predicting no entity: a miss, not a skip
            p = ["O"] * len(tokens)
        gold.append(g)
        pred.append(p)
        tokens_all.append(tokens)
    unmatched = sum(len(q) for q in by_tokens.values())
    s = score(gold, pred)
    return {
        "gold": str(gold_path), "predictions": str(pred_path), "scheme": scheme.name,
        "precision": s["precision"], "recall": s["recall"], "f1": s["f1"],
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
                      f"[{r['f1_ci95'][0]:.4f}, {r['f1_ci95'][1]:.4f}]", r["sentences"],
                      r["missing"], r["unmatched_predictions"]]],
                    headers=["precision", "recall", "F1", "F1 95% CI", "sentences", "missing",
                             "unmatched predictions"], tablefmt="github", disable_numparse=True)
    types = tabulate([[t, f"{v['precision']:.4f}", f"{v['recall']:.4f}", f"{v['f1']:.4f}",
                       v["support"]] for t, v in r["per_type"].items()],
                     headers=["type", "precision", "recall", "F1", "support"], tablefmt="github",
                     disable_numparse=True)
    return (f"# Scores: {r['predictions']} against {r['gold']} (scheme {r['scheme']})\n\n"
            f"{head}\n\n{types}\n")
