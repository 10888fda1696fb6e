"""Loading MultiNERD English into `datasets` objects with scheme-mapped tags.

Three sources, one result: a `DatasetDict` with splits train / validation /
test and columns `tokens` (list of str) and `tags` (list of scheme tag names).

- the hub id ``Babelscape/multinerd`` (needs network),
- a local folder in the hub layout (``train/train_en.jsonl`` ...),
- a folder of the official TSV files (``train_en.tsv`` ...; ``token<TAB>tag``
  or ``index<TAB>token<TAB>tag`` per line, blank line between sentences).

Local files are read line by line so that every problem is reported as
``file:line: field: problem``.
"""
from __future__ import annotations

import hashlib
import json
import re
from dataclasses import dataclass, field
from pathlib import Path
from typing import Iterable

import numpy as np

from .errors import DataError, UnknownLabelError, first_line
from .labels import MULTINERD_ID2TAG, MULTINERD_TAG2ID, LabelScheme

HUB_ID = "Babelscape/multinerd"
SPLITS = ("train", "validation", "test")
# File stems of each split in MultiNERD's own layout.
SPLIT_STEMS = {"train": "train", "validation": "val", "test": "test"}


@dataclass
class RawSplit:
    """Sentences of one split with MultiNERD tag *names* (before any scheme)."""

    tokens: list[list[str]] = field(default_factory=list)
    tags: list[list[str]] = field(default_factory=list)
    skipped_empty: int = 0

    def __len__(self) -> int:
        return len(self.tokens)


@dataclass
class LoadedData:
    splits: dict[str, RawSplit]
    source: str
    fingerprint: str  # sha256 of the files read (or the hub fingerprint)

    @property
    def skipped_empty(self) -> dict[str, int]:
        return {name: s.skipped_empty for name, s in self.splits.items()}


# ---------------------------------------------------------------- readers
def _fail(path: Path, line: int | None, what: str) -> DataError:
    where = f"{path}:{line}" if line is not None else str(path)
    return DataError(f"{where}: {what}")


def _check_sentence(path: Path, lineno: int, tokens, tags) -> list[str]:
    """Validate one JSONL record's fields; return MultiNERD tag names."""
    if not isinstance(tokens, list) or not all(isinstance(t, str) for t in tokens):
        raise _fail(path, lineno, "field 'tokens': expected a list of strings")
    blank = next((i for i, t in enumerate(tokens) if not t.strip()), None)
    if blank is not None:
        raise _fail(path, lineno, f"field 'tokens'[{blank}]: empty or whitespace-only token "
                                  f"{tokens[blank]!r}")
    if not isinstance(tags, list):
        raise _fail(path, lineno, "field 'ner_tags': expected a list of tag ids")
    if len(tokens) != len(tags):
        raise _fail(
            path, lineno,
            f"fields 'tokens' and 'ner_tags' differ in length ({len(tokens)} vs {len(tags)})",
        )
    names = []
    for i, tag in enumerate(tags):
        if isinstance(tag, bool) or not isinstance(tag, int) or tag not in MULTINERD_ID2TAG:
            raise _fail(
                path, lineno,
                f"field 'ner_tags'[{i}]: tag id {tag!r} outside 0..{len(MULTINERD_ID2TAG) - 1}",
            )
        names.append(MULTINERD_ID2TAG[tag])
    return names


def text_lines(path: Path):
    """(line number, line) of a UTF-8 text file (a BOM is skipped); a file
    that is not UTF-8 text is a one-line error naming it."""
    path = Path(path)
    if not path.is_file():
        raise _fail(path, None, "file not found")
    with path.open("rb") as fh:
        if fh.read(2) == b"\x1f\x8b":
            raise _fail(path, None, "a gzip file; decompress it first (gunzip)")
    lineno = 0
    try:
        with path.open(encoding="utf-8-sig") as fh:
            for lineno, line in enumerate(fh, 1):
                yield lineno, line
    except UnicodeDecodeError as err:
        raise _fail(path, lineno + 1, f"not UTF-8 text ({err.reason} at byte {err.start} "
                                      f"of the line)") from None


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
            raise _fail(path, lineno, f"not valid JSON ({err.msg})") from None
        if not isinstance(record, dict):
            raise _fail(path, lineno, "expected a JSON object")
        for key in ("tokens", "ner_tags"):
            if key not in record:
                raise _fail(path, lineno, f"missing field '{key}'")
        if record.get("lang", language) != language:
            continue
        names = _check_sentence(path, lineno, record["tokens"], record["ner_tags"])
        if not names:
            split.skipped_empty += 1
            continue
        split.tokens.append(record["tokens"])
        split.tags.append(names)
    if not seen_any:
        raise _fail(path, None, "empty file: no sentences")
    if not split.tokens:
        raise _fail(path, None, f"no non-empty sentences with lang == {language!r}")
    return split


def _tsv_tag(path: Path, lineno: int, raw: str) -> str:
    if re.fullmatch(r"-?[0-9]+", raw):
        tag_id = int(raw)
        if tag_id not in MULTINERD_ID2TAG:
            raise _fail(path, lineno, f"field 'tag': tag id {tag_id} outside 0..30")
        return MULTINERD_ID2TAG[tag_id]
    if raw not in MULTINERD_TAG2ID:
        raise _fail(path, lineno, f"field 'tag': unknown MultiNERD tag {raw!r}")
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
            raise _fail(path, lineno, f"expected 'token<TAB>tag', got {line!r}")
        tokens.append(cols[0])
        tags.append(_tsv_tag(path, lineno, cols[1].strip()))
    flush()
    if not split.tokens:
        raise _fail(path, None, "empty file: no sentences")
    return split


def _sha256_files(paths: Iterable[Path]) -> str:
    digest = hashlib.sha256()
    for p in paths:
        digest.update(p.name.encode())
        with p.open("rb") as fh:
            for chunk in iter(lambda: fh.read(1 << 20), b""):
                digest.update(chunk)
    return digest.hexdigest()


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
                      fingerprint=_sha256_files(files.values()))


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


def load_multinerd(data: str | Path | None = None, language: str = "en") -> LoadedData:
    """`data` is a local folder, or None / a hub id for the hub."""
    if data is None or str(data) == HUB_ID or str(data).startswith("hub:"):
        hub_id = HUB_ID if data is None else str(data).removeprefix("hub:")
        return load_hub(hub_id, language)
    return load_local(Path(data), language)


# ---------------------------------------------------------------- views
def subsample_indices(n: int, limit: int | None, seed: int) -> list[int]:
    """A deterministic subset of `limit` indices, kept in corpus order.  Subsets
    of one seed are nested: each is the head of one seeded permutation, so the
    500 contain the 250 (learning curves rely on this)."""
    if limit is None or limit >= n:
        return list(range(n))
    rng = np.random.default_rng(seed)
    return sorted(rng.permutation(n)[:limit].tolist())


def to_scheme(raw: RawSplit, scheme: LabelScheme, indices: list[int] | None = None):
    """A `datasets.Dataset` of (tokens, tags) with tags mapped into `scheme` by name."""
    import datasets

    idx = range(len(raw)) if indices is None else indices
    tokens = [raw.tokens[i] for i in idx]
    try:
        tags = [[scheme.map_tag(t) for t in raw.tags[i]] for i in idx]
    except UnknownLabelError as err:
        raise DataError(str(err)) from None
    return datasets.Dataset.from_dict({"tokens": tokens, "tags": tags})


def contamination(train: RawSplit, test: RawSplit) -> int:
    """How many test sentences also occur, token for token, in the training split."""
    seen = {tuple(t) for t in train.tokens}
    return sum(tuple(t) in seen for t in test.tokens)
