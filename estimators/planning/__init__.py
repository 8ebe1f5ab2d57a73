"""A whole plan: requests, typed results, the estimate of one cluster, the deadline/budget search over
GPU kinds and sizes, sweeps as DataFrames.

May import: search, time, memory, counts, catalog, specs.
"""
