"""The API's routers, one per resource (metrics, columns, tokens, audit, health). Each route
parses the request, calls one `registry.answers` function and shapes its answer; routers never
import each other (shared parameters live in `api/deps.py`)."""
