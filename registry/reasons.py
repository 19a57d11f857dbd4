"""Why a change was made: every write's, decision's and note's reason, checked one way."""

from __future__ import annotations

from typing import Any

from registry.errors import Issue
from registry.models import valid_unicode

MAX_REASON = 2000


def reason_issue(reason: Any, required: bool = False) -> Issue | None:
    """What is wrong with a reason, if anything (every door's writes pass here): absent or
    blank when one is required, or not Unicode text of at most MAX_REASON characters."""
    if reason is None or (isinstance(reason, str) and not reason.strip()):
        return Issue("reason", "is required: say why") if required else None
    if not isinstance(reason, str) or len(reason) > MAX_REASON or not valid_unicode(reason):
        return Issue("reason", f"must be Unicode text of at most {MAX_REASON} characters")
    return None
