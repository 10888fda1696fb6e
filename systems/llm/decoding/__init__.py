"""Decoding the generative tagger's answers: decoders, the KV cache, one step's
products, and the folded 4-bit path."""
