"""Benchmarks: each module starts its own real stack and prints figures (no assertions on speed)."""
