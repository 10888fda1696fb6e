"""NER systems behind one train/predict interface; see `systems.base`."""
from .base import (NERSystem, SystemConfig, epoch_record, get_system, register_system,
                   registered)

__all__ = ["NERSystem", "SystemConfig", "epoch_record", "get_system", "register_system",
           "registered"]
