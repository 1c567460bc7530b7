"""Temporal workflows: deterministic orchestration over `procurement` rules and activities."""
