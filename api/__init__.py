"""The HTTP API: a thin adapter over the registry."""
