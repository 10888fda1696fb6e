"""A synthetic MultiNERD English corpus of any size, made from a local subset.

Each split's sentences are repeated until the split has the size asked for;
every repeat is the split in its own seeded order, so no two repeats line up.
The files are the hub layout the harness reads (``train/train_en.jsonl``,
``val/val_en.jsonl``, ``test/test_en.jsonl``), written line for line from the
source, so the harness's loader and validation see real records.

It measures the harness's own work at scale; its scores mean nothing (the test
sentences are repeats of a few thousand).  Full size is MultiNERD English's
262,560 training and 32,908 test sentences; validation is made the size of
test (the full split has about 32,900).

    python benchmarks/synthetic_corpus.py --out /tmp/multinerd-full --full
    python benchmarks/synthetic_corpus.py --out /tmp/multinerd-x4 --factor 4
"""
from __future__ import annotations

import argparse
import sys
from pathlib import Path

import numpy as np

FILES = {"train": "train/train_en.jsonl", "validation": "val/val_en.jsonl",
         "test": "test/test_en.jsonl"}
FULL_SIZE = {"train": 262_560, "validation": 32_908, "test": 32_908}


def source_lines(folder: Path, split: str) -> list[str]:
    """The non-blank lines of one split's JSONL file, as they are."""
    path = Path(folder) / FILES[split]
    if not path.is_file():
        raise SystemExit(f"{path}: file not found (a folder in the hub layout is needed)")
    lines = [line if line.endswith("\n") else line + "\n"
             for line in path.read_text(encoding="utf-8").splitlines(keepends=True)
             if line.strip()]
    if not lines:
        raise SystemExit(f"{path}: empty file: no sentences")
    return lines


def repeated(lines: list[str], size: int, seed: int) -> list[str]:
    """`size` lines: whole seeded permutations of `lines`, the last one cut short."""
    out: list[str] = []
    for repeat in range(-(-size // len(lines))):
        order = np.random.default_rng([seed, repeat]).permutation(len(lines))
        out.extend(lines[i] for i in order[:size - len(out)])
    return out


def sizes_for(folder: Path, factor: float | None) -> dict[str, int]:
    """Split sizes: `factor` times the source's, or full size when None."""
    if factor is None:
        return dict(FULL_SIZE)
    return {split: round(factor * len(source_lines(folder, split))) for split in FILES}


def write_corpus(source: Path, out: Path, sizes: dict[str, int], seed: int = 0) -> dict[str, int]:
    """Write the synthetic corpus under `out`; returns the sentences per split."""
    for split, size in sizes.items():
        path = Path(out) / FILES[split]
        path.parent.mkdir(parents=True, exist_ok=True)
        with path.open("w", encoding="utf-8") as fh:
            fh.writelines(repeated(source_lines(source, split), size, seed))
    return sizes


def main() -> None:
    from _common import require_data_folder

    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--out", required=True, type=Path)
    group = ap.add_mutually_exclusive_group(required=True)
    group.add_argument("--factor", type=float, help="times the subset's size")
    group.add_argument("--full", action="store_true", help="MultiNERD English's full size")
    ap.add_argument("--seed", type=int, default=0)
    args = ap.parse_args()
    source = require_data_folder()
    sizes = write_corpus(source, args.out, sizes_for(source, None if args.full else args.factor),
                         args.seed)
    print(f"wrote {args.out}: " + ", ".join(f"{k} {v:,}" for k, v in sizes.items()),
          file=sys.stderr)


if __name__ == "__main__":
    main()
