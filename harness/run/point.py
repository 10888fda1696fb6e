"""One grid point run by several processes inside its allocation:
``torchrun --nproc-per-node N -m harness.run.point FILE``.  FILE holds the
point (its options, benchmark and system), pickled by the executor; every
rank runs it (DDP), and the main one writes the result beside FILE."""
from __future__ import annotations

import json
import pickle
import sys
from pathlib import Path

from harness.core import distributed


def result_file(point_file: Path) -> Path:
    return Path(point_file).with_suffix(".result.json")


def main(argv: list[str]) -> int:
    from harness.run.runner import Corpora, run_one
    from harness.core.profiles import PROFILES

    point_file = Path(argv[0])
    opts, bench, system = pickle.loads(point_file.read_bytes())
    data = Corpora(opts.data, PROFILES[opts.profile].hub_data)(bench)
    result = run_one(opts, bench, system, data)
    if distributed.is_main():
        result_file(point_file).write_text(json.dumps(result.to_dict()))
    return 0


if __name__ == "__main__":
    sys.exit(main(sys.argv[1:]))
