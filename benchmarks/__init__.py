"""Reproducible performance comparisons (`make bench`). Not deployed, not imported by the jobs."""
