"""Signing in and out of the console, sessions, and the headers every page carries."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta

from fastapi.testclient import TestClient
from freezegun import freeze_time

from api.console.web import SESSION_COOKIE
from registry import answers
from tests.console.conftest import Console, form_token, sign_in, text_of


def test_a_page_sends_a_stranger_to_sign_in_and_back(console: Console) -> None:
    stranger = TestClient(console.app_client.app)
    answer = stranger.get("/audit?actor=setup", follow_redirects=False)
    assert answer.status_code == 303
    assert answer.headers["location"] == "/signin?next=%2Faudit%3Factor%3Dsetup"
    form = stranger.get(answer.headers["location"])
    assert '<label for="token">Token</label>' in form.text
    assert 'name="next" value="/audit?actor=setup"' in form.text
    signed = stranger.post(
        "/signin",
        data={
            "csrf": form_token(form.text),
            "token": console.tokens["auditor"],
            "next": "/audit?actor=setup",
        },
        follow_redirects=False,
    )
    assert signed.headers["location"] == "/audit?actor=setup"
    assert "Audit feed" in stranger.get("/audit?actor=setup").text


def test_the_session_cookie_is_httponly_strict_and_expires(console: Console) -> None:
    answer = sign_in(TestClient(console.app_client.app), console.tokens["analyst"])
    cookie = next(c for c in answer.headers.get_list("set-cookie") if c.startswith(SESSION_COOKIE))
    attributes = {part.strip().split("=")[0].lower() for part in cookie.split(";")}
    assert {"httponly", "max-age", "path", "samesite"} <= attributes
    assert "samesite=strict" in cookie.lower()
    assert "max-age=28800" in cookie.lower()
    # The cookie is a random id; the database keeps only its hash, and no token.
    session_id = cookie.split(";")[0].split("=", 1)[1]
    stored = console.pool.conn.execute("SELECT * FROM console_sessions").fetchall()
    assert stored and not any(session_id in map(str, row) for row in stored)
    assert not any(console.tokens["analyst"] in map(str, row) for row in stored)


def test_a_wrong_token_is_told_and_gets_no_session(console: Console) -> None:
    person = TestClient(console.app_client.app)
    answer = sign_in(person, "mr_not-a-token")
    assert answer.status_code == 401
    assert "That token is not a live token" in text_of(answer.text)
    assert SESSION_COOKIE not in answer.headers.get("set-cookie", "")
    assert person.get("/", follow_redirects=False).status_code == 303


def test_a_sign_in_without_the_forms_token_is_refused(console: Console) -> None:
    person = TestClient(console.app_client.app)
    answer = person.post("/signin", data={"token": console.tokens["admin"]}, follow_redirects=False)
    assert answer.status_code == 403
    assert "security token is missing or stale" in text_of(answer.text)
    assert person.get("/", follow_redirects=False).status_code == 303


def test_after_signing_in_the_next_page_never_leaves_the_site(console: Console) -> None:
    for elsewhere in ("//evil.example/x", "https://evil.example/", "/\\evil.example"):
        person = TestClient(console.app_client.app)
        form = person.get("/signin")
        answer = person.post(
            "/signin",
            data={
                "csrf": form_token(form.text),
                "token": console.tokens["admin"],
                "next": elsewhere,
            },
            follow_redirects=False,
        )
        assert answer.headers["location"] == "/"


def test_signing_out_ends_the_session_on_the_server(console: Console) -> None:
    person = TestClient(console.app_client.app)
    sign_in(person, console.tokens["admin"])
    cookie = person.cookies[SESSION_COOKIE]
    confirm = person.get("/signout")
    assert person.post("/signout", data={}, follow_redirects=False).status_code == 403
    done = person.post("/signout", data={"csrf": form_token(confirm.text)}, follow_redirects=False)
    assert done.headers["location"] == "/signin"
    # The old cookie, replayed, no longer opens anything.
    replay = TestClient(console.app_client.app, cookies={SESSION_COOKIE: cookie})
    assert replay.get("/", follow_redirects=False).status_code == 303


def test_revoking_the_token_ends_its_sessions(console: Console) -> None:
    assert console["analyst"].get("/").status_code == 200
    assert console.api("DELETE", "/api/admin/tokens/analyst-person").status_code == 200
    assert console["analyst"].get("/", follow_redirects=False).status_code == 303


def test_a_session_expires(console: Console) -> None:
    person = TestClient(console.app_client.app)
    sign_in(person, console.tokens["analyst"])
    assert person.get("/").status_code == 200
    with freeze_time(datetime.now(UTC) + timedelta(hours=8, minutes=1)):
        assert person.get("/", follow_redirects=False).status_code == 303


def test_a_forged_or_unknown_cookie_opens_nothing(console: Console) -> None:
    for value in ("x", "' OR 1=1 --", "a" * 4000):
        forged = TestClient(console.app_client.app, cookies={SESSION_COOKIE: value})
        assert forged.get("/integrity", follow_redirects=False).status_code == 303


def test_every_page_refuses_framing_and_foreign_content(console: Console) -> None:
    paths = [
        "/",
        "/signin",
        "/metrics/revenue/mrr",
        "/metrics/revenue/mrr/diff?from=0&to=1",
        "/audit",
        "/integrity",
        "/columns/subscriptions",
        "/metrics/revenue/nope",
    ]
    for path in paths:
        answer = console["admin"].get(path)
        policy = answer.headers["content-security-policy"]
        assert "default-src 'none'" in policy and "frame-ancestors 'none'" in policy, path
        assert "script-src 'self'" in policy and "form-action 'self'" in policy, path
        assert answer.headers["x-frame-options"] == "DENY", path
        assert answer.headers["x-content-type-options"] == "nosniff", path
        # Nothing from another host: every src and href is a path of this site (or a fragment).
        for link in __import__("re").findall(r'(?:src|href)="([^"]*)"', answer.text):
            assert link.startswith(("/", "#")) and not link.startswith("//"), (path, link)


def test_the_header_badge_shows_the_last_verification(console: Console) -> None:
    assert "Not verified yet" in console["analyst"].get("/").text
    answers.verify(console.reg)
    page = console["analyst"].get("/").text
    assert 'class="badge ok"' in page and "Verified" in page
