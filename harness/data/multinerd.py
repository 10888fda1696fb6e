"""MultiNERD: its tag inventory and ids, its two label schemes, and its readers.

Three sources, one result (`LoadedData` of `RawSplit`s with MultiNERD tag
names; `corpus` holds the shape):

- the hub id ``Babelscape/multinerd`` (needs network),
- a local folder in the hub layout (``train/train_en.jsonl`` ...),
- a folder of the official TSV files (``train_en.tsv`` ...; ``token<TAB>tag``
  or ``index<TAB>token<TAB>tag`` per line, blank line between sentences).

Gold files store MultiNERD's own integer ids; every conversion goes id ->
MultiNERD tag *name* -> scheme tag name.  Local files are read line by line
so that every problem is reported as ``file:line: field: problem``.
"""
from __future__ import annotations

import hashlib
import json
import re
from pathlib import Path

from harness.core.errors import DataError, UnknownLabelError, first_line
from harness.core.labels import LabelScheme
from harness.data.corpus import (SPLITS, LoadedData, RawSplit, check_tokens, fail, sha256_files,
                                 text_lines)

HUB_ID = "Babelscape/multinerd"
LANGUAGES = ("de", "en", "es", "fr", "it", "nl", "pl", "pt", "ru", "zh")
# File stems of each split in MultiNERD's own layout.
SPLIT_STEMS = {"train": "train", "validation": "val", "test": "test"}

# MultiNERD's entity types, in the order of its tag ids (B = 2k+1, I = 2k+2).
MULTINERD_TYPES: tuple[str, ...] = (
    "PER", "ORG", "LOC", "ANIM", "BIO", "CEL", "DIS", "EVE",
    "FOOD", "INST", "MEDIA", "MYTH", "PLANT", "TIME", "VEHI",
)

TYPE_DESCRIPTIONS: dict[str, str] = {
    "PER": "person",
    "ORG": "organization",
    "LOC": "location",
    "ANIM": "animal",
    "BIO": "biological entity",
    "CEL": "celestial body",
    "DIS": "disease",
    "EVE": "event",
    "FOOD": "food",
    "INST": "instrument",
    "MEDIA": "media work",
    "MYTH": "mythological entity",
    "PLANT": "plant",
    "TIME": "time",
    "VEHI": "vehicle",
}


def _multinerd_id2tag() -> dict[int, str]:
    tags = {0: "O"}
    for k, etype in enumerate(MULTINERD_TYPES):
        tags[2 * k + 1] = f"B-{etype}"
        tags[2 * k + 2] = f"I-{etype}"
    return tags


MULTINERD_ID2TAG: dict[int, str] = _multinerd_id2tag()
MULTINERD_TAG2ID: dict[str, int] = {t: i for i, t in MULTINERD_ID2TAG.items()}


def _scheme(name: str, types: tuple[str, ...], description: str) -> LabelScheme:
    return LabelScheme(name, types, description, MULTINERD_TYPES, TYPE_DESCRIPTIONS)


SCHEMES: dict[str, LabelScheme] = {
    "A": _scheme("A", MULTINERD_TYPES, "all 15 MultiNERD entity types"),
    "B": _scheme("B", ("PER", "ORG", "LOC", "DIS", "ANIM"),
                 "PER, ORG, LOC, DIS, ANIM; every other type set to O"),
}


def get_scheme(name: str) -> LabelScheme:
    try:
        return SCHEMES[name]
    except KeyError:
        raise UnknownLabelError(
            f"unknown label scheme {name!r}; known: {', '.join(SCHEMES)}") from None


# ---------------------------------------------------------------- readers
def _check_sentence(path: Path, lineno: int, tokens, tags) -> list[str]:
    """Validate one JSONL record's fields; return MultiNERD tag names."""
    if not isinstance(tokens, list) or not all(isinstance(t, str) for t in tokens):
        raise fail(path, lineno, "field 'tokens': expected a list of strings")
    check_tokens(path, lineno, tokens)
    if not isinstance(tags, list):
        raise fail(path, lineno, "field 'ner_tags': expected a list of tag ids")
    if len(tokens) != len(tags):
        raise fail(
            path, lineno,
            f"fields 'tokens' and 'ner_tags' differ in length ({len(tokens)} vs {len(tags)})",
        )
    names = []
    for i, tag in enumerate(tags):
        if isinstance(tag, bool) or not isinstance(tag, int) or tag not in MULTINERD_ID2TAG:
            raise fail(
                path, lineno,
                f"field 'ner_tags'[{i}]: tag id {tag!r} outside 0..{len(MULTINERD_ID2TAG) - 1}",
            )
        names.append(MULTINERD_ID2TAG[tag])
    return names


def read_jsonl(path: Path, language: str = "en") -> RawSplit:
    """Read one MultiNERD JSONL file (hub layout), keeping `language` only."""
    path = Path(path)
    split = RawSplit()
    seen_any = False
    for lineno, line in text_lines(path):
        if not line.strip():
            continue
        seen_any = True
        try:
            record = json.loads(line)
        except json.JSONDecodeError as err:
            raise fail(path, lineno, f"not valid JSON ({err.msg})") from None
        if not isinstance(record, dict):
            raise fail(path, lineno, "expected a JSON object")
        for key in ("tokens", "ner_tags"):
            if key not in record:
                raise fail(path, lineno, f"missing field '{key}'")
        if record.get("lang", language) != language:
            continue
        names = _check_sentence(path, lineno, record["tokens"], record["ner_tags"])
        if not names:
            split.skipped_empty += 1
            continue
        split.tokens.append(record["tokens"])
        split.tags.append(names)
    if not seen_any:
        raise fail(path, None, "empty file: no sentences")
    if not split.tokens:
        raise fail(path, None, f"no non-empty sentences with lang == {language!r}")
    return split


def _tsv_tag(path: Path, lineno: int, raw: str) -> str:
    if re.fullmatch(r"-?[0-9]+", raw):
        tag_id = int(raw)
        if tag_id not in MULTINERD_ID2TAG:
            raise fail(path, lineno, f"field 'tag': tag id {tag_id} outside 0..30")
        return MULTINERD_ID2TAG[tag_id]
    if raw not in MULTINERD_TAG2ID:
        raise fail(path, lineno, f"field 'tag': unknown MultiNERD tag {raw!r}")
    return raw


def read_tsv(path: Path) -> RawSplit:
    """Read an official MultiNERD TSV file (one token per line)."""
    path = Path(path)
    split = RawSplit()
    tokens: list[str] = []
    tags: list[str] = []

    def flush() -> None:
        if tokens:
            split.tokens.append(list(tokens))
            split.tags.append(list(tags))
        tokens.clear()
        tags.clear()

    for lineno, line in text_lines(path):
        line = line.rstrip("\n").rstrip("\r")
        if not line.strip():
            flush()
            continue
        cols = line.split("\t")
        if len(cols) == 3:
            cols = cols[1:]  # index, token, tag
        if len(cols) != 2 or not cols[0].strip():
            raise fail(path, lineno, f"expected 'token<TAB>tag', got {line!r}")
        tokens.append(cols[0])
        tags.append(_tsv_tag(path, lineno, cols[1].strip()))
    flush()
    if not split.tokens:
        raise fail(path, None, "empty file: no sentences")
    return split


def load_local(folder: Path, language: str = "en") -> LoadedData:
    """Read a folder in the hub layout or the TSV layout (detected)."""
    folder = Path(folder)
    if not folder.is_dir():
        raise DataError(f"{folder}: data folder not found")
    jsonl = {s: folder / st / f"{st}_{language}.jsonl" for s, st in SPLIT_STEMS.items()}
    tsv = {s: folder / f"{st}_{language}.tsv" for s, st in SPLIT_STEMS.items()}
    if any(p.parent.is_dir() and p.parent != folder for p in jsonl.values()):
        files, reader = jsonl, (lambda p: read_jsonl(p, language))
        for name, p in files.items():
            if not p.parent.is_dir():
                raise DataError(f"{p.parent}: missing split folder for '{name}'")
    elif any(p.is_file() for p in tsv.values()):
        files, reader = tsv, read_tsv
    else:
        raise DataError(
            f"{folder}: neither the hub layout (train/train_{language}.jsonl, val/, test/) "
            f"nor the TSV layout (train_{language}.tsv, ...) was found"
        )
    splits = {name: reader(path) for name, path in files.items()}
    return LoadedData(splits, source=str(folder.resolve()),
                      fingerprint=sha256_files(files.values()))


def load_hub(hub_id: str = HUB_ID, language: str = "en") -> LoadedData:
    """Load MultiNERD from the Hugging Face hub (network needed)."""
    import datasets

    try:
        ds = datasets.load_dataset(hub_id)
    except OSError as err:  # ConnectionError and the hub's not-found errors are OSErrors
        raise DataError(
            f"dataset {hub_id!r} could not be loaded from the Hugging Face hub "
            f"({first_line(err)}); "
            f"without network, pass --data PATH (a local MultiNERD folder) or use "
            f"--profile offline with $HARNESS_DATA") from None
    splits = {}
    for name in SPLITS:
        part = ds[name].filter(lambda r: r["lang"] == language)
        raw = RawSplit()
        for toks, ids in zip(part["tokens"], part["ner_tags"]):
            if not toks:
                raw.skipped_empty += 1
                continue
            raw.tokens.append(list(toks))
            raw.tags.append([MULTINERD_ID2TAG[i] for i in ids])
        splits[name] = raw
    fingerprint = hashlib.sha256(
        "".join(ds[s]._fingerprint for s in SPLITS).encode()).hexdigest()
    return LoadedData(splits, source=f"hub:{hub_id}", fingerprint=fingerprint)


def read_gold_file(path: Path, language: str = "en") -> RawSplit:
    """One gold file: the official TSV (``.tsv``) or the hub layout's JSONL."""
    path = Path(path)
    return read_tsv(path) if path.suffix == ".tsv" else read_jsonl(path, language)
