"""A runnable scaled-down Mochi-like system in PyTorch, built from the estimators' specs (torch only here)."""
