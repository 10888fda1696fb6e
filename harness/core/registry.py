"""The registry that finds systems by name, lazily.

The harness's own systems live in the ``systems`` package, imported by name
the first time a system is looked up; systems in other packages register
through the ``ner_harness.systems`` entry-point group.  Nothing here imports
a system module statically, so the core never depends on a system.
"""
from __future__ import annotations

import importlib
import pkgutil
from importlib import metadata

from .errors import UnknownSystemError
from .system import NERSystem

ENTRY_POINT_GROUP = "ner_harness.systems"
BUILTIN_PACKAGE = "systems"

_REGISTRY: dict[str, type[NERSystem]] = {}
_UNIMPORTABLE: dict[str, str] = {}   # module -> why it could not be imported here
_discovered = False


def register_system(name: str):
    """Class decorator: make a system available under `name`."""

    def decorate(cls: type[NERSystem]) -> type[NERSystem]:
        if not issubclass(cls, NERSystem):
            raise TypeError(f"{cls.__name__} must subclass NERSystem")
        existing = _REGISTRY.get(name)
        if existing is not None and existing.__qualname__ != cls.__qualname__:
            raise ValueError(f"system name {name!r} is already taken by {existing.__qualname__}")
        cls.name = name
        _REGISTRY[name] = cls
        return cls

    return decorate


def unregister_system(name: str) -> None:
    _REGISTRY.pop(name, None)


def discover() -> None:
    """Import every module of the built-in systems package, then the plugins."""
    global _discovered
    if _discovered:
        return
    _discovered = True
    package = importlib.import_module(BUILTIN_PACKAGE)
    for mod in pkgutil.iter_modules(package.__path__):
        name = f"{BUILTIN_PACKAGE}.{mod.name}"
        try:
            importlib.import_module(name)
        except ModuleNotFoundError as err:   # a package this install left out (torch, say)
            _UNIMPORTABLE[name] = str(err)
    for ep in metadata.entry_points(group=ENTRY_POINT_GROUP):
        ep.load()


def registered() -> dict[str, type[NERSystem]]:
    discover()
    return dict(sorted(_REGISTRY.items()))


def get_system(name: str) -> type[NERSystem]:
    systems = registered()
    if name not in systems:
        missing = "; ".join(f"{m} ({why})" for m, why in _UNIMPORTABLE.items())
        raise UnknownSystemError(
            f"unknown system {name!r}; known systems: {', '.join(systems) or 'none'}"
            + (f"; not importable here: {missing}" if missing else ""))
    return systems[name]


def find_system(name: str) -> type[NERSystem] | None:
    """The class registered as `name`, or None (a report of a plugin that is
    not installed here is still rebuilt, without the plugin's own sections)."""
    return registered().get(name)
