"""The `da` command line: a door that only translates. Each command parses its options, makes
one call to its Backend (embedded: `registry.answers`; over HTTP: the API) and prints the
answer as text or JSON. Nothing imports it."""
