"""Every error the harness reports as one clear line.

Each is also a subclass of the built-in error it refines, so callers that
catch ValueError or FileNotFoundError keep working; the command line catches
`HarnessError` and prints its message.
"""
from __future__ import annotations


def first_line(err: BaseException) -> str:
    """The first line of an exception's message (its type name if it has none),
    for one-line errors that quote a library's reason."""
    return (str(err).splitlines() or [type(err).__name__])[0]


class HarnessError(Exception):
    """Base of the errors that end a command with a one-line message."""


class DataError(HarnessError, ValueError):
    """Malformed or missing data; the message names the file, line and field."""


class UnknownLabelError(HarnessError, ValueError):
    """A tag or type that the scheme does not know."""


class LengthMismatchError(HarnessError, ValueError):
    """Gold and predicted sequences do not line up."""


class OutputError(HarnessError, OSError):
    """An output folder that cannot be written."""


class ModelNotFoundError(HarnessError, FileNotFoundError):
    """A model name or path that cannot be loaded."""


class UnknownSystemError(HarnessError, KeyError):
    def __str__(self) -> str:  # KeyError would quote the message
        return str(self.args[0])


class ConfigError(HarnessError, ValueError):
    """A profile, config field or option that does not exist."""


class MissingPackageError(HarnessError, ImportError):
    """A part asked for in the config needs a package that is not installed."""
