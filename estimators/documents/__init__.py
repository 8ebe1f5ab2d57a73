"""What leaves the planner: JSON documents and their schema, diffs, the reviewer's reading, output
files written safely, golden scenarios.

May import: every room below it.
"""
