"""The public HTTP API (FastAPI): routes, identity, problem+json errors."""
