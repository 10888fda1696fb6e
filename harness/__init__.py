"""A harness that fine-tunes and compares NER systems on MultiNERD English."""

__version__ = "0.1.0"
