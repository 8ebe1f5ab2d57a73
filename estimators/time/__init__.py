"""Seconds: kernel tables, compute rates, collectives on the links, the step time of many layouts at
once, what a plan's time rests on (kernel, stack, dominant part) and its ranges.

May import: memory, counts, catalog, specs.
"""
