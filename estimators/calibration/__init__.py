"""Checking and fitting the time model on measured runs: back-test, fit of the device profiles,
leave-one-source-out cross-validation.

May import: planning and every room below it.
"""
