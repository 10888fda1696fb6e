"""Span-based systems (GLiNER)."""
