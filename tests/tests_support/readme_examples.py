"""The README's worked examples, run as they are written there."""
import re

from conftest import ROOT
from harness.core import registered


def readme_example(name: str) -> str:
    text = (ROOT / "README.md").read_text()
    match = re.search(rf"<!-- example: {name} -->\s*```python\n(.*?)```", text, re.S)
    assert match, f"README lost its {name!r} example"
    return match.group(1)


def _run(name: str) -> None:
    exec(compile(readme_example(name), "README.md", "exec"), {})


def ensure_registered():
    """Register the 'adding a system' example as system 'lexicon' (again, if a
    test removed it)."""
    if "lexicon" not in registered():
        _run("adding-a-system")
    return registered()["lexicon"]


def ensure_prompt_format_registered() -> str:
    """Register the 'adding a prompt format' example; returns its name."""
    from systems.llm.formats import formats

    if "json" not in formats():
        _run("adding-a-prompt-format")
    return "json"
