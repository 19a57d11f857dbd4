"""The answers every door shows: one function per question a user asks.

API routes, the embedded CLI (and through the API the remote CLI) and the MCP server call
these and only shape the result (status and headers, text or JSON). Each
returns plain JSON-ready data: times as UTC ISO text ending in `Z`, lists as lists. A write
answers from what it wrote, in its own transaction, and never reads back after the commit.

The room above every other room of the registry: it may import the domain, access,
interchange and analytics; only the doors import it. `repository.py` is the Python door of
SPEC section 4 (`MetricRepository`, `ColumnMetadataRepository`), built on the same functions.
"""

from registry.answers.analytics import (
    MAX_RUN_LIMIT,
    RUN_LIMIT,
    recorded_basetypes,
    run_metric,
    table_profiles,
    validation,
)
from registry.answers.audit import event_page, health, last_verification, recent_events, verify
from registry.answers.columns import (
    column,
    column_diff,
    column_file,
    column_history,
    column_list,
    delete_column,
    describe_table,
    imported_columns,
    put_column,
    restore_column,
    roll_back_column,
    set_column,
    table_record,
)
from registry.answers.interchange import (
    dbt_files,
    export_folder,
    export_zip,
    import_metrics,
    import_upload,
    installed_dbt_project,
)
from registry.answers.metrics import (
    MAX_SEARCH_LIMIT,
    cached_metric,
    catalog,
    create_metric,
    delete_metric,
    metric,
    metric_diff,
    metric_history,
    metric_list,
    metric_record,
    metric_search,
    metrics_reading,
    restore_metric,
    roll_back_metric,
    table_map,
    update_metric,
    written,
)
from registry.answers.shape import etag, json_object, jsonable, utc_text
from registry.answers.tokens import has_admin_token, new_token, revoked_token, token_list
from registry.answers.upkeep import (
    copied_registry,
    database_info,
    demo,
    projection_check,
    rebuilt_projections,
    starter_pack,
)

__all__ = [
    "MAX_RUN_LIMIT",
    "MAX_SEARCH_LIMIT",
    "RUN_LIMIT",
    "cached_metric",
    "catalog",
    "column",
    "column_diff",
    "column_file",
    "column_history",
    "column_list",
    "copied_registry",
    "create_metric",
    "database_info",
    "dbt_files",
    "installed_dbt_project",
    "delete_column",
    "delete_metric",
    "demo",
    "describe_table",
    "etag",
    "event_page",
    "export_folder",
    "export_zip",
    "has_admin_token",
    "health",
    "import_metrics",
    "import_upload",
    "imported_columns",
    "json_object",
    "jsonable",
    "last_verification",
    "metric",
    "metric_diff",
    "metric_history",
    "metric_list",
    "metric_record",
    "metric_search",
    "metrics_reading",
    "new_token",
    "projection_check",
    "put_column",
    "rebuilt_projections",
    "recent_events",
    "recorded_basetypes",
    "restore_column",
    "restore_metric",
    "revoked_token",
    "roll_back_column",
    "roll_back_metric",
    "run_metric",
    "set_column",
    "starter_pack",
    "table_map",
    "table_profiles",
    "table_record",
    "token_list",
    "update_metric",
    "utc_text",
    "validation",
    "verify",
    "written",
]
