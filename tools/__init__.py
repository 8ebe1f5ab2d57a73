"""Development tools that read the source tree (not installed with the package)."""
