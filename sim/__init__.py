"""Event-level simulation (pipeline schedules with overlap, whole runs with failures, the data pipeline)."""
