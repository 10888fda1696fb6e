"""Progress bars that stay quiet when output is not a terminal and no one asked."""
from __future__ import annotations

import os
import sys

from tqdm.auto import tqdm


def progress_enabled() -> bool:
    return sys.stderr.isatty() or bool(os.environ.get("HARNESS_PROGRESS"))


def progress(iterable, desc: str = "", total: int | None = None, disable: bool | None = None):
    if disable is None:
        disable = not progress_enabled()
    return tqdm(iterable, desc=desc, total=total, disable=disable, leave=False, dynamic_ncols=True)
