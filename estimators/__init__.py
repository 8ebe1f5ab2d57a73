"""Analytic core of the capacity planner: specs, exact counts, memory, time and cost.

Pure Python + numpy + pydantic; never imports torch.
"""
