"""The registry's own tables beside the log and the v4 tables, created when a database is
prepared: API tokens (hashes only), console sign-ins, answers kept for retried requests,
parsed YAML files, the last verification's verdict, and the embedded CLI's search index.
Their owners (`registry.access`, `registry.replies`, `registry.interchange.parse_cache`,
`registry.verdicts`, `registry.search_index`) read and write them; set-up needs none of
those modules.
"""

CREATE_TOKENS_SQL = (
    "CREATE TABLE IF NOT EXISTS api_tokens (name VARCHAR PRIMARY KEY, role VARCHAR NOT NULL,"
    " token_sha256 VARCHAR NOT NULL UNIQUE, created_at TIMESTAMP NOT NULL, revoked_at TIMESTAMP)"
)
# A token's table grants (JSON list of globs; NULL: every table), added after tokens were.
ADD_GRANTS_SQL = "ALTER TABLE api_tokens ADD COLUMN IF NOT EXISTS tables VARCHAR"
CREATE_SESSIONS_SQL = (
    "CREATE TABLE IF NOT EXISTS console_sessions (session_sha256 VARCHAR PRIMARY KEY,"
    " token_sha256 VARCHAR NOT NULL, created_at TIMESTAMP NOT NULL,"
    " expires_at TIMESTAMP NOT NULL, ended_at TIMESTAMP)"
)
CREATE_REPLIES_SQL = (
    "CREATE TABLE IF NOT EXISTS idempotent_replies (key VARCHAR PRIMARY KEY,"
    " request_sha256 VARCHAR NOT NULL, answer JSON NOT NULL, recorded_at TIMESTAMP NOT NULL)"
)
CREATE_PARSE_CACHE_SQL = (
    "CREATE TABLE IF NOT EXISTS yaml_parse_cache"
    " (key VARCHAR PRIMARY KEY, definitions JSON NOT NULL)"
)

CREATE_VERDICT_SQL = (
    "CREATE TABLE IF NOT EXISTS last_verification"
    " (id INTEGER PRIMARY KEY, verdict JSON NOT NULL, verified_at TIMESTAMP NOT NULL)"
)

CREATE_SEARCH_INDEX_SQL = (
    "CREATE TABLE IF NOT EXISTS search_index"
    " (id INTEGER PRIMARY KEY, head BIGINT NOT NULL, data VARCHAR NOT NULL)"
)

# Webhooks (registry.hooks): each subscription's delivery cursor (the last position it was
# sent, or its subscription's), its retry state, and every attempt. Subscriptions themselves
# are events; their signing secrets are derived from the server's key, never stored.
CREATE_HOOK_CURSORS_SQL = (
    "CREATE TABLE IF NOT EXISTS webhook_cursors (hook_id VARCHAR PRIMARY KEY,"
    " position BIGINT NOT NULL, failures INTEGER NOT NULL, next_attempt_at TIMESTAMP,"
    " failing_since TIMESTAMP)"
)
CREATE_HOOK_DELIVERIES_SQL = (
    "CREATE TABLE IF NOT EXISTS webhook_deliveries (hook_id VARCHAR NOT NULL,"
    " position BIGINT NOT NULL, attempt INTEGER NOT NULL, attempted_at TIMESTAMP NOT NULL,"
    " status INTEGER, error VARCHAR, millis DOUBLE PRECISION NOT NULL)"
)

REGISTRY_TABLES_SQL = [
    CREATE_PARSE_CACHE_SQL,
    CREATE_TOKENS_SQL,
    ADD_GRANTS_SQL,
    CREATE_SESSIONS_SQL,
    CREATE_REPLIES_SQL,
    CREATE_VERDICT_SQL,
    CREATE_SEARCH_INDEX_SQL,
    CREATE_HOOK_CURSORS_SQL,
    CREATE_HOOK_DELIVERIES_SQL,
]
