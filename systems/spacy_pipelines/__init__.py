"""The spaCy references."""
