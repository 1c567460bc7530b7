"""The pure domain of collective buying: models and rules. Imports nothing of ours, reads no clock."""
