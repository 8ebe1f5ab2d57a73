"""Exact tallies of a model on a clip: parameters, forward FLOPs, saved-activation elements per block,
text encoders, VAEs, clip geometry, and the per-layer TrainingProblem the memory and time models read.

May import: catalog, specs.
"""
