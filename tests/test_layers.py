"""The package's layering, read from the source with `ast`, each layer
importing only those below it:

    harness.cli, harness.__main__   command line (top)
    harness.run                     running the grid
    harness.reporting               reports
    systems                         plug-ins: core, data, evaluation and measure
    harness.measure, harness.evaluation, harness.data
    harness.core                    the contract (bottom)

and the size rule for package code: no function over 60 lines.
"""
from __future__ import annotations

import ast
from pathlib import Path

import pytest

from conftest import ROOT

CLI = {"harness.cli", "harness.__main__"}
ABOVE_SYSTEMS = {"harness.run", "harness.reporting"} | CLI
FORBIDDEN = {   # layer -> what it may not import
    "harness.core": {"systems", "harness.data", "harness.evaluation", "harness.measure"}
                    | ABOVE_SYSTEMS,
    "harness.data": {"systems", "harness.evaluation", "harness.measure"} | ABOVE_SYSTEMS,
    "harness.evaluation": {"systems", "harness.measure"} | ABOVE_SYSTEMS,
    "harness.measure": {"systems", "harness.data", "harness.evaluation"} | ABOVE_SYSTEMS,
    "systems": ABOVE_SYSTEMS,
    "harness.reporting": {"systems", "harness.run"} | CLI,
    "harness.run": {"systems"} | CLI,
}
LAYERS = list(FORBIDDEN)


def module_name(path: Path) -> str:
    parts = list(path.relative_to(ROOT).with_suffix("").parts)
    return ".".join(parts[:-1] if parts[-1] == "__init__" else parts)


def package_files() -> list[Path]:
    return sorted(p for top in ("harness", "systems") for p in (ROOT / top).rglob("*.py"))


def imported_modules(path: Path) -> set[str]:
    """Every module a file imports, relative imports resolved, at any depth
    (imports inside functions count: they are dependencies all the same)."""
    package = module_name(path)
    if path.name != "__init__.py":
        package = package.rpartition(".")[0]
    out: set[str] = set()
    for node in ast.walk(ast.parse(path.read_text(), str(path))):
        if isinstance(node, ast.Import):
            out.update(alias.name for alias in node.names)
        elif isinstance(node, ast.ImportFrom):
            base = node.module or ""
            if node.level:
                anchor = package.split(".")[: len(package.split(".")) - node.level + 1]
                base = ".".join(anchor + ([base] if base else []))
            out.add(base)
            out.update(f"{base}.{alias.name}" for alias in node.names)
    return out


def _is_under(module: str, roots: set[str]) -> bool:
    return any(module == r or module.startswith(r + ".") for r in roots)


def layer_violations(files: list[Path]) -> list[str]:
    bad = []
    for path in files:
        name, imports = module_name(path), imported_modules(path)
        layer = next((layer for layer in LAYERS if _is_under(name, {layer})), None)
        if layer is None:
            continue
        forbidden = FORBIDDEN[layer]
        bad += [f"{name} imports {m}" for m in sorted(imports) if _is_under(m, forbidden)]
    return bad


def test_each_layer_imports_only_the_layers_below_it():
    assert layer_violations(package_files()) == []


def test_the_check_catches_a_violation(tmp_path, monkeypatch):
    """The check is not vacuous: a core module importing a system is caught,
    whether the import is absolute, relative or inside a function."""
    core = tmp_path / "harness" / "core"
    core.mkdir(parents=True)
    (core / "bad.py").write_text("def f():\n    from systems.encoder.tagger import EncoderTagger\n")
    (core / "worse.py").write_text("from ..cli import main\n")
    monkeypatch.setattr(__import__("test_layers"), "ROOT", tmp_path)
    assert layer_violations(sorted(core.glob("*.py"))) == [
        "harness.core.bad imports systems.encoder.tagger",
        "harness.core.bad imports systems.encoder.tagger.EncoderTagger",
        "harness.core.worse imports harness.cli",
        "harness.core.worse imports harness.cli.main",
    ]


def long_functions(files: list[Path], limit: int = 60) -> list[str]:
    out = []
    for path in files:
        for node in ast.walk(ast.parse(path.read_text(), str(path))):
            if isinstance(node, (ast.FunctionDef, ast.AsyncFunctionDef)):
                length = node.end_lineno - node.lineno + 1
                if length > limit:
                    out.append(f"{path.relative_to(ROOT)}:{node.lineno} {node.name} ({length} lines)")
    return out


def test_no_function_in_the_package_is_longer_than_60_lines():
    assert long_functions(package_files()) == []


@pytest.mark.parametrize("name", ["harness.core", "systems"])
def test_layers_hold_files(name):
    assert any(module_name(p).startswith(name) for p in package_files())
