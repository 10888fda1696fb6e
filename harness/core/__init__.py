"""The contract: the bottom layer that systems and the rest of the harness
build on.  It holds the system interface and registry, label schemes, run
profiles, errors and config checks, and imports nothing else of the project
(tests/test_layers.py checks this); systems are found through the registry.

What a system author needs is importable from here.
"""
from harness.core.errors import (ConfigError, DataError, HarnessError, LengthMismatchError,
                     ModelNotFoundError, OutputError, UnknownLabelError, UnknownSystemError)
from harness.core.registry import get_system, register_system, registered, unregister_system
from harness.core.system import (Counters, NERSystem, ReportSection, SystemConfig, epoch_record,
                     inference_field, unhashed_default)

__all__ = ["ConfigError", "Counters", "DataError", "HarnessError", "LengthMismatchError",
           "ModelNotFoundError", "NERSystem", "OutputError", "ReportSection", "SystemConfig",
           "UnknownLabelError", "UnknownSystemError", "epoch_record", "get_system", "inference_field",
           "register_system", "registered", "unhashed_default", "unregister_system"]
