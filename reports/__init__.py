"""PDF reports built from the plan document (estimators.document)."""
