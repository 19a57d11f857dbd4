"""The admins' webhooks page: subscribe (the secret shown once), test, remove; guarded like
every console write (role, form token)."""

from __future__ import annotations

import re

import pytest

from registry import answers
from tests.console.conftest import Console, form_token, text_of
from tests.receiver import receiving


@pytest.fixture(autouse=True)
def local_receivers(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("DA_HOOKS_ALLOW_PRIVATE", "1")


def test_an_admin_subscribes_tests_and_removes_a_url(console: Console) -> None:
    admin = console["admin"]
    with receiving() as receiver:
        empty = admin.get("/hooks")
        assert empty.status_code == 200 and "No subscriptions yet." in text_of(empty.text)
        made = admin.post(
            "/hooks",
            data={
                "csrf": form_token(empty.text),
                "url": receiver.url,
                "events": "metric.*, column.deleted",
                "category": "",
                "tables": "fin_*",
            },
        )
        assert made.status_code == 201, made.text
        secret = re.search(r'id="secret" readonly value="(whsec_[^"]+)"', made.text)
        assert secret, "the page shows the secret once"
        [hook] = answers.hook_list(console.reg)["hooks"]
        assert (hook["events"], hook["tables"], hook["created_by"]) == (
            ["metric.*", "column.deleted"],
            ["fin_*"],
            "admin-person",
        )
        listed = admin.get("/hooks").text
        assert hook["id"] in listed and secret.group(1) not in listed  # once means once
        tested = admin.post(f"/hooks/{hook['id']}/test", data={"csrf": form_token(listed)})
        assert f"Test message to {hook['id']}: delivered (200" in text_of(tested.text)
        assert receiver.verified(secret.group(1)) == [{"type": "webhook.test", "hook": hook["id"]}]
    removed = admin.post(
        f"/hooks/{hook['id']}/remove", data={"csrf": form_token(listed)}, follow_redirects=False
    )
    assert removed.status_code == 303 and removed.headers["location"] == "/hooks"
    assert answers.hook_list(console.reg)["hooks"][0]["state"] == "removed"


def test_only_admins_with_a_form_token_and_good_fields(console: Console) -> None:
    for role in ("analyst", "auditor"):
        assert console[role].get("/hooks").status_code == 403
        assert "/hooks" not in console[role].get("/").text  # no menu entry either
    admin = console["admin"]
    token = form_token(admin.get("/hooks").text)
    forged = admin.post("/hooks", data={"url": "https://example.com", "events": "metric.*"})
    assert forged.status_code == 403
    bad = admin.post("/hooks", data={"csrf": token, "url": "ftp://x", "events": "metric.*"})
    assert bad.status_code == 422 and "url: must be an http:// or https:// URL" in text_of(bad.text)
    assert answers.hook_list(console.reg) == {"hooks": []}
