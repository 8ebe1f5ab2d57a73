"""The `plan` command: a thin front door over estimators/, sim/ and reports/ (no formulas here)."""
