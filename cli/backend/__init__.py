"""Where a command runs: on the embedded database, or over HTTP when a server holds it.

Both backends implement one protocol and answer with the registry's own answers (the bodies
the API sends), so every command renders one way whichever it talked to.
"""

from __future__ import annotations

import json
import os
from pathlib import Path

from cli.backend.protocol import (
    YAML,
    Backend,
    Json,
    Progress,
    Source,
    Target,
    Write,
)
from registry import Settings

__all__ = [
    "YAML",
    "Backend",
    "Json",
    "Progress",
    "Source",
    "Target",
    "Write",
    "backend_for",
    "process_identity",
    "running_server",
]


def process_identity(pid: int | None = None) -> str | None:
    """What tells a process apart from a later one with the same pid: its start time, as the
    kernel counts it (None where there is no /proc)."""
    try:
        stat = Path(f"/proc/{pid or os.getpid()}/stat").read_text()
    except OSError:
        return None
    return stat.rsplit(")", 1)[1].split()[19]  # field 22, starttime


def running_server(settings: Settings) -> str | None:
    """The URL of the live `da serve` holding this data folder's database, if there is one.

    A discovery file left behind by a server that is gone (or whose pid now belongs to another
    program) is ignored.
    """
    try:
        found = json.loads(settings.server_file.read_text())
        pid = int(found["pid"])
        os.kill(pid, 0)
    except (OSError, ValueError, KeyError, TypeError):
        return None
    recorded = found.get("process")
    if recorded is not None and process_identity(pid) != recorded:
        return None  # the pid was reused: that server is gone
    return str(found["url"])


def backend_for(target: Target) -> Backend:
    """Over HTTP if asked (--api-url) or if a live server holds the database; else embedded.

    Kept on the target, which releases it when the command ends (`release_all`: the database
    closed, so its lock goes with it; the HTTP client's connections closed), not whenever the
    garbage collector runs.
    """
    url = target.api_url or running_server(target.settings)
    backend: Backend
    if url:
        from cli.backend.remote import RemoteBackend

        backend = RemoteBackend(target, url)
    else:
        from cli.backend.local import LocalBackend

        backend = LocalBackend(target)
    target.opened.add(backend)
    return backend
