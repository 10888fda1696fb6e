"""Datasets and benchmarks: the definitions, the readers of each format, and the
one shape (`corpus.LoadedData`) every reader produces."""
