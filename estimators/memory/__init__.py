"""Bytes per GPU: model states per parameter, runtime reserve, fragmentation, and the per-GPU total of
many layouts at once.

May import: counts, catalog, specs.
"""
