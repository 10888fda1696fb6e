"""CoNLL column files, conlleval's input: one token a line (token, gold,
predicted; or token, predicted), a blank line between sentences,
`-DOCSTART-` lines skipped, columns split on tabs where a line has them and
on whitespace otherwise; a gzip file is read as it is."""
from __future__ import annotations

import gzip
from dataclasses import dataclass
from pathlib import Path
from typing import Iterator, Sequence

from .errors import DataError
from .fileio import write_text_atomic
from .labels import MULTINERD_TAG2ID, LabelScheme

GZIP_MAGIC = b"\x1f\x8b"


@dataclass
class ConllSentence:
    tokens: list[str]
    gold: list[str] | None     # None in a two-column file
    pred: list[str]


def is_gzip(path: Path) -> bool:
    with Path(path).open("rb") as fh:
        return fh.read(2) == GZIP_MAGIC


def lines(path: Path) -> Iterator[tuple[int, str]]:
    """(line number, line) of a text file, gzip or not, a BOM skipped."""
    path = Path(path)
    if not path.is_file():
        raise DataError(f"{path}: file not found")
    opener = gzip.open if is_gzip(path) else open
    lineno = 0
    try:
        with opener(path, "rt", encoding="utf-8-sig") as fh:
            for lineno, line in enumerate(fh, 1):
                yield lineno, line.rstrip("\r\n")
    except (UnicodeDecodeError, OSError, EOFError) as err:
        raise DataError(f"{path}:{lineno + 1}: cannot be read as UTF-8 text ({err})") from None


def _columns(line: str) -> list[str]:
    return line.split("\t") if "\t" in line else line.split()


def _tag(path: Path, lineno: int, tag: str, scheme: LabelScheme, gold: bool) -> str:
    if gold:   # gold is mapped into the scheme by name, as every gold is
        if tag not in MULTINERD_TAG2ID:
            raise DataError(f"{path}:{lineno}: gold tag {tag!r} is not a MultiNERD tag")
        return scheme.map_tag(tag)
    if tag not in scheme.label2id:
        raise DataError(f"{path}:{lineno}: predicted tag {tag!r} is not in scheme "
                        f"{scheme.name} ({', '.join(scheme.types)})")
    return tag


def read_conll(path: Path, scheme: LabelScheme) -> list[ConllSentence]:
    """Every sentence of a two- or three-column file, tags checked against the scheme."""
    path, out, width = Path(path), [], None
    rows: list[list[str]] = []

    def flush():
        if rows:
            gold = [r[1] for r in rows] if width == 3 else None
            out.append(ConllSentence([r[0] for r in rows], gold, [r[-1] for r in rows]))
            rows.clear()

    for lineno, line in lines(path):
        cols = _columns(line)
        if not cols or cols[0] == "-DOCSTART-":
            flush()
            continue
        if len(cols) not in (2, 3) or (width is not None and len(cols) != width):
            expected = f"{width}" if width else "2 (token, predicted) or 3 (token, gold, predicted)"
            formats = "" if width else (" (predictions are read as JSONL with tokens and pred, "
                                        "a sentence|gold|predicted CSV, or CoNLL columns)")
            raise DataError(f"{path}:{lineno}: expected {expected} columns, got {len(cols)}: "
                            f"{line!r}{formats}")
        width = len(cols)
        tags = [_tag(path, lineno, t, scheme, gold=(i == 1 and width == 3))
                for i, t in enumerate(cols[1:], 1)]
        rows.append([cols[0], *tags])
    flush()
    if not out:
        raise DataError(f"{path}: empty file: no sentences")
    return out


def first_line(path: Path) -> str:
    """The first non-blank line of a text file (gzip or not), '' if none."""
    return next((line for _, line in lines(path) if line.strip()), "")


def write_conll(path: Path, tokens: Sequence, gold: Sequence, pred: Sequence) -> None:
    """token, gold and predicted tag a line, tab-separated; a blank line after each sentence."""
    text = "".join("".join(f"{t}\t{g}\t{p}\n" for t, g, p in zip(toks, gs, ps)) + "\n"
                   for toks, gs, ps in zip(tokens, gold, pred))
    write_text_atomic(path, text)
