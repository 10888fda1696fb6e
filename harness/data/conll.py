"""CoNLL column files, conlleval's input: one token a line (token, gold,
predicted; or token, predicted), a blank line between sentences,
`-DOCSTART-` lines skipped, columns split on tabs where a line has them and
on whitespace otherwise; a gzip file is read as it is."""
from __future__ import annotations

from dataclasses import dataclass
from pathlib import Path
from typing import Iterator, Sequence

from harness.core.errors import DataError, UnknownLabelError
from harness.core.fileio import write_text_atomic
from harness.core.labels import LabelScheme, split_tag
from harness.data.corpus import (SPLITS, LoadedData, RawSplit, check_tokens, fail, sha256_files,
                                 text_lines)

@dataclass
class ConllSentence:
    tokens: list[str]
    gold: list[str] | None     # None in a two-column file
    pred: list[str]


def lines(path: Path) -> Iterator[tuple[int, str]]:
    """(line number, line without its newline) of a text file, gzip or not, a BOM skipped."""
    for lineno, line in text_lines(path, allow_gzip=True):
        yield lineno, line.rstrip("\r\n")


def _columns(line: str) -> list[str]:
    return line.split("\t") if "\t" in line else line.split()


def _tag(path: Path, lineno: int, tag: str, scheme: LabelScheme, gold: bool) -> str:
    if gold:   # gold is mapped into the scheme by name, as every gold is
        try:
            return scheme.map_tag(tag)
        except UnknownLabelError as err:
            raise DataError(f"{path}:{lineno}: gold tag {tag!r}: {err}") from None
    if tag not in scheme.label2id:
        raise DataError(f"{path}:{lineno}: predicted tag {tag!r} is not in scheme "
                        f"{scheme.name} ({', '.join(scheme.types)})")
    return tag


def sentences(path: Path) -> Iterator[list[tuple[int, list[str]]]]:
    """Each sentence of a column file: its (line number, columns) rows; a blank
    line or `-DOCSTART-` ends a sentence."""
    rows: list[tuple[int, list[str]]] = []
    for lineno, line in lines(path):
        cols = _columns(line)
        if cols and cols[0] != "-DOCSTART-":
            rows.append((lineno, cols))
        elif rows:
            yield rows
            rows = []
    if rows:
        yield rows


def _check_width(path: Path, lineno: int, cols: list[str], width: int | None) -> int:
    if len(cols) not in (2, 3) or (width is not None and len(cols) != width):
        expected = f"{width}" if width else "2 (token, predicted) or 3 (token, gold, predicted)"
        formats = "" if width else (" (predictions are read as JSONL with tokens and pred, "
                                    "a sentence|gold|predicted CSV, or CoNLL columns)")
        raise DataError(f"{path}:{lineno}: expected {expected} columns, got {len(cols)}: "
                        f"{' '.join(cols)!r}{formats}")
    return len(cols)


def read_conll(path: Path, scheme: LabelScheme) -> list[ConllSentence]:
    """Every sentence of a two- or three-column file, tags checked against the scheme."""
    path, out, width = Path(path), [], None
    for rows in sentences(path):
        tagged = []
        for lineno, cols in rows:
            width = _check_width(path, lineno, cols, width)
            tagged.append([cols[0]] + [_tag(path, lineno, t, scheme, gold=(i == 1 and width == 3))
                                       for i, t in enumerate(cols[1:], 1)])
        gold = [r[1] for r in tagged] if width == 3 else None
        out.append(ConllSentence([r[0] for r in tagged], gold, [r[-1] for r in tagged]))
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


# ---------------------------------------------------------------- a dataset in columns
SPLIT_FILES = {"train": ("train",), "validation": ("validation", "dev", "valid", "val"),
               "test": ("test",)}


def read_split(path: Path, language: str = "") -> RawSplit:
    """One CoNLL-column gold file as a dataset split: the token in the first
    column, its IOB2 tag in the last, any columns between ignored."""
    path, split = Path(path), RawSplit()
    for rows in sentences(path):
        for lineno, cols in rows:
            cols[:] = [c.strip() for c in cols]
            if len(cols) < 2:
                raise fail(path, lineno, f"expected 'token ... tag' columns, got {cols[0]!r}")
            check_tokens(path, lineno, [cols[0]], "token")
            try:
                split_tag(cols[-1])
            except UnknownLabelError as err:
                raise fail(path, lineno, f"tag column: {err}") from None
        split.tokens.append([cols[0] for _, cols in rows])
        split.tags.append([cols[-1] for _, cols in rows])
    if not split.tokens:
        raise fail(path, None, "empty file: no sentences")
    return split


def _split_file(folder: Path, split: str) -> Path:
    for stem in SPLIT_FILES[split]:
        for suffix in (".conll", ".txt", ".tsv"):
            if (folder / f"{stem}{suffix}").is_file():
                return folder / f"{stem}{suffix}"
    raise DataError(f"{folder}: no {split} file ({' or '.join(s + '.conll' for s in SPLIT_FILES[split])})")


def load_folder(folder: Path, language: str = "") -> LoadedData:
    """A folder of CoNLL-column files, one a split (train.conll, dev.conll, test.conll)."""
    folder = Path(folder)
    if not folder.is_dir():
        raise DataError(f"{folder}: data folder not found")
    files = {split: _split_file(folder, split) for split in SPLITS}
    return LoadedData({s: read_split(p, language) for s, p in files.items()},
                      source=str(folder.resolve()), fingerprint=sha256_files(files.values()))
