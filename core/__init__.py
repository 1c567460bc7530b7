"""The floor every part may stand on: settings, logging and the Temporal client connection."""
