"""Registers the README's 'adding a system' example for tests that need a fast system."""
import re

from conftest import ROOT
from systems.base import registered

if "lexicon" not in registered():
    _text = (ROOT / "README.md").read_text()
    _code = re.search(r"<!-- example: adding-a-system -->\s*```python\n(.*?)```", _text, re.S).group(1)
    exec(compile(_code, "README.md", "exec"), {})
