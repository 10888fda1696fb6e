from __future__ import annotations

import json
import sys
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parent.parent
if str(ROOT) not in sys.path:
    sys.path.insert(0, str(ROOT))

SHARED_DATA = ROOT.parent / "shared" / "data" / "multinerd-en-subset"

# Three tiny sentences with MultiNERD ids: PER, LOC, ORG, PLANT, FOOD.
TINY = [
    {"tokens": ["Ada", "Lovelace", "lived", "in", "London", "."],
     "ner_tags": [1, 2, 0, 0, 5, 0], "lang": "en"},
    {"tokens": ["She", "ate", "ginseng", "at", "Acme", "Corp", "."],
     "ner_tags": [0, 0, 25, 0, 3, 4, 0], "lang": "en"},
    {"tokens": ["Pizza", "is", "food", "."], "ner_tags": [17, 0, 0, 0], "lang": "en"},
    {"tokens": ["Das", "ist", "Berlin"], "ner_tags": [0, 0, 5], "lang": "de"},
]


def write_jsonl(path: Path, rows) -> Path:
    path.parent.mkdir(parents=True, exist_ok=True)
    path.write_text("".join((r if isinstance(r, str) else json.dumps(r)) + "\n" for r in rows))
    return path


def make_hub_folder(root: Path, rows=TINY) -> Path:
    for stem in ("train", "val", "test"):
        write_jsonl(root / stem / f"{stem}_en.jsonl", rows)
    return root


@pytest.fixture
def hub_folder(tmp_path) -> Path:
    return make_hub_folder(tmp_path / "data")


def requires_shared_data():
    return pytest.mark.skipif(
        not SHARED_DATA.is_dir(),
        reason=f"real MultiNERD subset not found at {SHARED_DATA} (it sits beside the repository in CI)")


@pytest.fixture(scope="module")
def tiny_split():
    """The three English TINY sentences as a scheme-B dataset (tokens, tags)."""
    from harness.data.corpus import RawSplit, to_scheme
    from harness.data.multinerd import MULTINERD_ID2TAG, SCHEMES

    raw = RawSplit([r["tokens"] for r in TINY[:3]],
                   [[MULTINERD_ID2TAG[i] for i in r["ner_tags"]] for r in TINY[:3]])
    return to_scheme(raw, SCHEMES["B"])


@pytest.fixture
def two_lexicons():
    """The README's lexicon system and a registered copy of it, lexicon-cased."""
    from harness.core import register_system, unregister_system
    from tests_support.readme_examples import ensure_registered

    lexicon = ensure_registered()
    register_system("lexicon-cased")(type("CasedLexicon", (lexicon,), {}))
    yield ["lexicon", "lexicon-cased"]
    unregister_system("lexicon-cased")
    unregister_system("lexicon")


def _fake_harness_process(code: str):
    """Start `python -c CODE -m harness` (its command line reads as a harness
    command) through a shell that exits, so that it is not this process's own
    child; yield its pid once /proc shows it, and kill it afterwards."""
    import os
    import signal
    import subprocess
    import sys
    import time

    from harness.measure.contention import other_harness_processes

    launch = subprocess.run(["sh", "-c", f"{sys.executable} -c '{code}' -m harness "
                                         f">/dev/null 2>&1 & echo $!"],
                            capture_output=True, text=True, check=True)
    pid = int(launch.stdout)
    try:
        for _ in range(50):
            if pid in other_harness_processes():
                break
            time.sleep(0.1)
        assert pid in other_harness_processes()
        yield pid
    finally:
        cmdline = Path(f"/proc/{pid}/cmdline")
        if cmdline.is_file() and b"harness" in cmdline.read_bytes():   # not a reused pid
            os.kill(pid, signal.SIGKILL)


@pytest.fixture
def other_harness_process():
    """A harness-looking process that sleeps: present, but using no CPU."""
    yield from _fake_harness_process("import time; time.sleep(120)")


@pytest.fixture
def busy_harness_process():
    """A harness-looking process that keeps a core busy (for 60 s at most)."""
    yield from _fake_harness_process("import time\nt = time.time()\n"
                                     "while time.time() - t < 60: pass")
