"""Interchange: definitions in and out of the registry. The YAML format (a bounded loader,
one key map used both ways, a cache of parsed files), reconciling imports, exports, uploads,
the starter pack, and dbt's Semantic Layer both ways. Imports the registry's domain;
`registry.analytics` and `registry.answers` import it."""
