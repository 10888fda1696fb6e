"""The README's 'adding a system' example, for tests that need a fast system."""
import re

from conftest import ROOT
from systems.base import registered


def readme_example() -> str:
    text = (ROOT / "README.md").read_text()
    match = re.search(r"<!-- example: adding-a-system -->\s*```python\n(.*?)```", text, re.S)
    assert match, "README lost its 'adding a system' example"
    return match.group(1)


def ensure_registered():
    """Register the example as system 'lexicon' (again, if a test removed it)."""
    if "lexicon" not in registered():
        exec(compile(readme_example(), "README.md", "exec"), {})
    return registered()["lexicon"]
