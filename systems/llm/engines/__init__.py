"""Engines other than transformers that the generative tagger decodes with."""
