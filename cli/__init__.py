"""The `da` command line: a thin adapter over the registry."""
