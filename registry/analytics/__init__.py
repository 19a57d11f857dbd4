"""Analytics: the data metrics compute on (a DuckDB file, whatever engine holds the registry).
The sandbox that checks and runs a metric's SQL read-only, validation of definitions against
the data, and the profiler. Imports the domain and interchange; `registry.answers` imports it."""
