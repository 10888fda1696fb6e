"""The registry that finds systems by name, lazily.

The harness's own systems are listed in ``systems.BUILTIN`` (name -> module);
systems of other packages register through the ``ner_harness.systems``
entry-point group (entry-point name = system name).  A system's module is
imported the first time the system is looked up.  A module that cannot be
imported here (a package this install left out, torch say) makes its systems
unavailable, with the reason, and never stops the others.  Nothing here
imports a system module statically, so the core never depends on a system.
"""
from __future__ import annotations

import importlib
from importlib import metadata

from harness.core.errors import MissingPackageError, UnknownSystemError, first_line
from harness.core.system import NERSystem

ENTRY_POINT_GROUP = "ner_harness.systems"
BUILTIN_PACKAGE = "systems"

_REGISTRY: dict[str, type[NERSystem]] = {}
_UNAVAILABLE: dict[str, str] = {}   # system -> why its module cannot be imported here


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


def _sources() -> dict[str, object]:
    """Every system name known without importing it: name -> a module name
    (built in) or an entry point (a plug-in)."""
    table = dict(getattr(importlib.import_module(BUILTIN_PACKAGE), "BUILTIN", {}))
    table.update({ep.name: ep for ep in metadata.entry_points(group=ENTRY_POINT_GROUP)})
    return table


def _load(name: str, source) -> None:
    """Import what registers `name`; an import that fails marks it unavailable."""
    try:
        if isinstance(source, str):
            importlib.import_module(source)
        else:
            source.load()
    except ImportError as err:   # a package this install left out
        _UNAVAILABLE[name] = f"cannot be imported here: {first_line(err)}"


def _ensure(name: str) -> None:
    if name not in _REGISTRY and name not in _UNAVAILABLE:
        source = _sources().get(name)
        if source is not None:
            _load(name, source)


def registered() -> dict[str, type[NERSystem]]:
    """Every system that can be imported here, by name."""
    for name in _sources():
        _ensure(name)
    return dict(sorted(_REGISTRY.items()))


def unavailable() -> dict[str, str]:
    """Systems whose module cannot be imported here, with the reason."""
    registered()
    return {n: why for n, why in sorted(_UNAVAILABLE.items()) if n not in _REGISTRY}


def get_system(name: str) -> type[NERSystem]:
    _ensure(name)
    if name in _REGISTRY:
        return _REGISTRY[name]
    if name in _UNAVAILABLE:
        raise MissingPackageError(f"system {name!r} {_UNAVAILABLE[name]}")
    raise UnknownSystemError(f"unknown system {name!r}; known systems: "
                             f"{', '.join(sorted(set(registered()) | set(unavailable()))) or 'none'}")


def find_system(name: str) -> type[NERSystem] | None:
    """The class registered as `name`, or None (a report of a plugin that is
    not installed here is still rebuilt, without the plugin's own sections)."""
    _ensure(name)
    return _REGISTRY.get(name)
