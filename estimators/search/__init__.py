"""Layouts: evaluating many at once (validity, time, memory), ranking them, explaining why none fits
and why popular alternatives lose.

May import: time, memory, counts, catalog, specs.
"""
