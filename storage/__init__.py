"""Storage: the infrastructure floor between the registry and the log.

The engine seam (`engine.py`: one `Engine` per database, made once from settings; one module
per engine, `duckdb.py` and `postgres.py`, with its store, projector, connections and leases),
a `Registry` bound to one connection and a server's pool of them (`session.py`), the read
cache, the adoption of pre-event-log databases, and the DDL of the registry's own tables.
Imports `events` and `projections` only; the registry and the doors import it.
"""
