"""Answers about webhooks: subscribe (the secret shown once), list, remove, test, attempts."""

from __future__ import annotations

from collections.abc import Sequence
from typing import Any

from storage.session import Registry


def new_hook(
    reg: Registry,
    url: str,
    events: Sequence[str],
    category: str | None,
    tables: Sequence[str],
    actor: str,
) -> dict[str, Any]:
    """Subscribe a URL (an audited event): the subscription and its signing secret, shown in
    this answer only."""
    from registry import hooks

    made, secret = hooks.subscribe(reg, url, events, category, tables, actor)
    return {"hook": made.as_dict(), "secret": secret}


def hook_list(reg: Registry) -> dict[str, Any]:
    """Every subscription (ended ones too, with why), oldest first; never a secret."""
    from registry import hooks

    return {"hooks": [h.as_dict() for h in hooks.all_hooks(reg)]}


def removed_hook(reg: Registry, hook_id: str, actor: str) -> dict[str, Any]:
    """Remove a subscription (an audited event): nothing more is sent to it."""
    from registry import hooks

    return {"status": "removed", "hook": hooks.unsubscribe(reg, hook_id, actor).as_dict()}


def hook_test(reg: Registry, hook_id: str) -> dict[str, Any]:
    """Send a signed `webhook.test` message now: whether it was delivered, and the answer."""
    from registry import hooks

    return hooks.send_test(reg, hook_id)


def hook_deliveries(reg: Registry, hook_id: str, limit: int = 100) -> dict[str, Any]:
    """A subscription's latest delivery attempts, newest first."""
    from registry import hooks

    return {"id": hook_id, "deliveries": hooks.deliveries(reg, hook_id, limit)}
