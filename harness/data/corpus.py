"""The one shape every dataset reader produces, and what is done with it.

A reader turns its files into `RawSplit`s: tokens and tag *names* of the
dataset's own inventory (before any label scheme).  A dataset's splits,
where they came from and a fingerprint of their content make `LoadedData`;
a label scheme's view of a split is a `datasets.Dataset` (`to_scheme`).
"""
from __future__ import annotations

import gzip
import hashlib
from dataclasses import dataclass, field
from pathlib import Path
from typing import Iterable, Iterator

import numpy as np

from harness.core.errors import DataError, UnknownLabelError
from harness.core.labels import LabelScheme

SPLITS = ("train", "validation", "test")
GZIP_MAGIC = b"\x1f\x8b"


@dataclass
class RawSplit:
    """Sentences of one split with the dataset's tag names (before any scheme)."""

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


def fail(path: Path, line: int | None, what: str) -> DataError:
    """`file:line: what`, the form of every data error."""
    where = f"{path}:{line}" if line is not None else str(path)
    return DataError(f"{where}: {what}")


def is_gzip(path: Path) -> bool:
    with Path(path).open("rb") as fh:
        return fh.read(2) == GZIP_MAGIC


def text_lines(path: Path, allow_gzip: bool = False) -> Iterator[tuple[int, str]]:
    """(line number, line) of a UTF-8 text file (a BOM is skipped; a gzip file
    is read through when `allow_gzip`, else refused); a file that is not UTF-8
    text is a one-line error naming it."""
    path = Path(path)
    if not path.is_file():
        raise fail(path, None, "file not found")
    zipped = is_gzip(path)
    if zipped and not allow_gzip:
        raise fail(path, None, "a gzip file; decompress it first (gunzip)")
    opener = gzip.open if zipped else open
    lineno = 0
    try:
        with opener(path, "rt", encoding="utf-8-sig") as fh:
            for lineno, line in enumerate(fh, 1):
                yield lineno, line
    except UnicodeDecodeError as err:
        raise fail(path, lineno + 1, f"not UTF-8 text ({err.reason} at byte {err.start} "
                                     f"of the line)") from None
    except (OSError, EOFError) as err:
        raise fail(path, lineno + 1, f"cannot be read ({err})") from None


def check_tokens(path: Path, lineno: int, tokens: list[str], field_name: str = "tokens") -> None:
    """Systems choke on empty tokens (spaCy's E031), so the reader refuses them."""
    blank = next((i for i, t in enumerate(tokens) if not t.strip()), None)
    if blank is not None:
        raise fail(path, lineno, f"field '{field_name}'[{blank}]: empty or whitespace-only "
                                 f"token {tokens[blank]!r}")


def sha256_files(paths: Iterable[Path]) -> str:
    digest = hashlib.sha256()
    for p in paths:
        digest.update(p.name.encode())
        with p.open("rb") as fh:
            for chunk in iter(lambda: fh.read(1 << 20), b""):
                digest.update(chunk)
    return digest.hexdigest()


def check_tag_set(data: LoadedData, inventory: tuple[str, ...], title: str) -> None:
    """Every tag of every split is of the dataset's own tag set; the first
    that is not is named with its split and sentence."""
    allowed = {"O"} | {f"{p}-{t}" for t in inventory for p in ("B", "I")}
    for split, raw in data.splits.items():
        for i, tags in enumerate(raw.tags):
            bad = next((tag for tag in tags if tag not in allowed), None)
            if bad is not None:
                raise DataError(f"{data.source}: {split} sentence {i + 1}: tag {bad!r} is not in "
                                f"the tag set of {title} ({', '.join(inventory)})")


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
