"""The auditors' pages: the feed, one batch, and integrity; and who may see them."""

from __future__ import annotations

import html
import re

from registry import answers
from tests.console.conftest import Console, form_token, text_of


def test_only_auditors_and_admins_read_the_audit_pages(console: Console) -> None:
    batch = answers.recent_events(console.reg, None, 1)["events"][0]["batch_id"]
    for path in ("/audit", f"/audit/batches/{batch}", "/integrity"):
        refused = console["analyst"].get(path)
        assert refused.status_code == 403, path
        assert "role 'analyst' may not read the audit log" in text_of(refused.text)
        for role in ("auditor", "admin"):
            assert console[role].get(path).status_code == 200, (role, path)
    # The menus follow the roles (the server's refusal above is the check).
    assert 'href="/audit"' not in console["analyst"].get("/").text
    assert 'href="/audit"' in console["auditor"].get("/").text


def test_the_feed_is_newest_first_and_links_each_event_to_its_version(console: Console) -> None:
    console.api(
        "PATCH", "/api/admin/metrics/revenue/mrr", json={"unit": "EUR", "reason": "why not"}
    )
    html = console["auditor"].get("/audit").text
    positions = [int(p) for p in re.findall(r'<tr>\s*<td data-label="Position">(\d+)</td>', html)]
    assert positions == sorted(positions, reverse=True) and positions
    assert '<a href="/metrics/revenue/mrr?version=2">revenue/mrr</a>' in html
    assert "why not" in text_of(html)


def test_the_feed_filters_as_the_registry_does(console: Console) -> None:
    console.api("PATCH", "/api/admin/metrics/revenue/mrr", json={"unit": "EUR"})
    console.api("PATCH", "/api/admin/metrics/revenue/arr", json={"unit": "EUR"})
    cases = {
        "actor=admin-person": {"actor": "admin-person"},
        "metric=revenue/arr": {"stream_id": "revenue/arr"},
        "type=MetricUpdated": {"event_type": "MetricUpdated"},
        "actor=admin-person&metric=revenue/mrr": {
            "actor": "admin-person",
            "stream_id": "revenue/mrr",
        },
        "actor=nobody": {"actor": "nobody"},
    }
    for query, filters in cases.items():
        html = console["auditor"].get(f"/audit?{query}").text
        shown = [int(p) for p in re.findall(r'<tr>\s*<td data-label="Position">(\d+)</td>', html)]
        expected = [
            e["position"] for e in answers.recent_events(console.reg, None, 50, **filters)["events"]
        ]
        assert shown == expected, query
    assert "No event matches these filters" in text_of(
        console["auditor"].get("/audit?actor=nobody").text
    )
    bad = console["auditor"].get("/audit?since=yesterday")
    assert bad.status_code == 422 and "since: 'yesterday' is not a time" in text_of(bad.text)


def test_the_feed_pages_back_without_gaps(console: Console) -> None:
    for n in range(60):
        console.api("PATCH", "/api/admin/metrics/revenue/mrr", json={"description": f"take {n}"})
    seen: list[int] = []
    path = "/audit"
    while path:
        html = console["auditor"].get(path).text
        seen += [int(p) for p in re.findall(r'<tr>\s*<td data-label="Position">(\d+)</td>', html)]
        found = re.search(r'<a rel="next" href="([^"]+)"', html)
        path = found.group(1).replace("&amp;", "&") if found else ""
    head = answers.health(console.reg)["head"]["position"]
    assert seen == list(range(head, 0, -1))


def test_a_batch_page_lists_one_imports_events(console: Console) -> None:
    events = answers.recent_events(console.reg, None, None)["events"]
    batch = next(e["batch_id"] for e in events if e["batch_id"])
    members = {e["stream_id"] for e in events if e["batch_id"] == batch}
    html = console["auditor"].get(f"/audit/batches/{batch}").text
    assert set(re.findall(r'<a href="/metrics/[^"]+">([^<]+)</a>', html)) == members
    metric_page = console["auditor"].get("/metrics/revenue/mrr").text
    assert f'href="/audit/batches/{batch}"' in metric_page
    assert "No event belongs to this batch" in text_of(
        console["auditor"].get("/audit/batches/nope").text
    )


def test_integrity_shows_the_head_and_verifies_against_an_anchor(console: Console) -> None:
    page = console["auditor"].get("/integrity").text
    head = answers.health(console.reg)["head"]
    anchor = f"{head['position']}:{head['hash']}"
    assert f'value="{anchor}"' in page
    assert "Not verified since the server started" in text_of(page)
    verified = console["auditor"].post(
        "/integrity", data={"csrf": form_token(page), "anchor": anchor}
    )
    text = text_of(verified.text)
    assert (
        "Passed" in text
        and "the hash chain and the Merkle tree hold" in text
        and "the projections match the log" in text
    )
    assert 'class="badge ok"' in verified.text
    wrong = f"{head['position']}:{'0' * 64}"
    failed = console["auditor"].post("/integrity", data={"csrf": form_token(page), "anchor": wrong})
    assert "Failed" in text_of(failed.text) and "anchor" in text_of(failed.text)
    # The header's badge is the public health: a caller's wrong anchor does not flip it.
    assert 'class="badge ok"' in failed.text
    malformed = console["auditor"].post(
        "/integrity", data={"csrf": form_token(page), "anchor": "x"}
    )
    assert malformed.status_code == 422 and "anchor" in text_of(malformed.text)
    forged = console["auditor"].post("/integrity", data={"anchor": anchor})
    assert forged.status_code == 403


def test_an_edited_projection_shows_on_the_integrity_page(console: Console) -> None:
    console.pool.conn.execute("UPDATE metric_definitions SET unit = 'XXX' WHERE id = 'revenue/mrr'")
    page = console["admin"].get("/integrity").text
    result = text_of(console["admin"].post("/integrity", data={"csrf": form_token(page)}).text)
    assert "the projections differ from the log" in result and "revenue/mrr" in result


def test_integrity_shows_the_signed_checkpoint_and_verifies_against_a_kept_one(
    console: Console,
) -> None:
    page = console["auditor"].get("/integrity").text
    kept = answers.tlog_checkpoint(console.reg)
    key = answers.tlog_key(console.reg)["verifier_key"]
    assert html.escape(kept, quote=False) in page and key in text_of(page)
    console.api("PATCH", "/api/admin/metrics/revenue/mrr", json={"unit": "EUR", "reason": "later"})
    # A checkpoint pasted from a browser comes back with CRLF line ends.
    pasted = kept.replace("\n", "\r\n")
    verified = console["auditor"].post(
        "/integrity", data={"csrf": form_token(page), "checkpoint": pasted}
    )
    text = text_of(verified.text)
    assert "Passed" in text and "the kept checkpoint holds" in text
    size = int(kept.split("\n")[1])
    assert f"the log extends it ({size} events then, {size + 1} now)" in text
    forged = kept.replace(f"\n{size}\n", f"\n{size - 1}\n")
    refused = console["auditor"].post(
        "/integrity", data={"csrf": form_token(page), "checkpoint": forged}
    )
    assert refused.status_code == 422 and "does not verify" in text_of(refused.text)
