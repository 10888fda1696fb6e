"""A small registry of named classes, for the parts that systems let users
pick by name in their config (a prompt format, a decoder, an encoder backend,
an LLM engine)."""
from __future__ import annotations

from typing import Generic, TypeVar

from harness.core.errors import ConfigError

T = TypeVar("T")


class NamedClasses(Generic[T]):
    def __init__(self, kind: str):
        self.kind = kind
        self._classes: dict[str, type[T]] = {}

    def register(self, name: str):
        """Class decorator: make the class available under `name`."""

        def decorate(cls: type[T]) -> type[T]:
            cls.name = name
            self._classes[name] = cls
            return cls

        return decorate

    def names(self) -> tuple[str, ...]:
        return tuple(self._classes)

    def get(self, name: str) -> type[T]:
        """The class registered as `name`."""
        if name not in self._classes:
            raise ConfigError(f"unknown {self.kind} {name!r}; known: {', '.join(self._classes)}")
        return self._classes[name]

    def create(self, name: str, *args, **kwargs) -> T:
        """An instance of the class registered as `name`."""
        return self.get(name)(*args, **kwargs)
