"""Joint Buy: collective buying for UK councils. Settings, logging, the CLI and the dev stack."""
