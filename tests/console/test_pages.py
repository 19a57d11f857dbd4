"""The console's reading pages, through HTTP, against the registry's own answers."""

from __future__ import annotations

import io
import re
import zipfile

from registry import answers
from registry.commands import WriteContext
from tests.conftest import metric_fields
from tests.console.conftest import Console, text_of


def _update(console: Console, metric: str, fields: dict[str, object], reason: str) -> int:
    answer = console.api("PATCH", f"/api/admin/metrics/{metric}", json={**fields, "reason": reason})
    assert answer.status_code == 200, answer.text
    return int(answer.json()["version"])


def test_the_registry_lists_every_metric_with_its_last_change(console: Console) -> None:
    _update(console, "revenue/mrr", {"unit": "EUR"}, "finance asked")
    page = text_of(console["analyst"].get("/").text)
    listed = answers.metric_list(console.reg)["metrics"]
    for metric in listed:
        assert metric["display_name"] in page and metric["id"] in page
    assert "Monthly Recurring Revenue revenue/mrr EUR v2 admin-person," in page
    assert re.search(r"revenue/arr USD v1 setup, \d{4}-\d\d-\d\d \d\d:\d\d:\d\d UTC", page)


def test_search_ranks_as_the_api_does(console: Console) -> None:
    page = console["analyst"].get("/?q=recurring").text
    shown = re.findall(r'<td data-label="Id"><code>([^<]+)</code></td>', page)
    ranked = [
        m["id"] for m in console.api("GET", "/api/metrics/search?q=recurring").json()["metrics"]
    ]
    assert shown == ranked and shown[0] == "revenue/mrr"
    assert "recurring in display_name" in text_of(page)
    assert "No metric matches “zzzzqqq”" in text_of(console["analyst"].get("/?q=zzzzqqq").text)


def test_a_category_filter_shows_that_category_only(console: Console) -> None:
    page = console["analyst"].get("/?category=sales").text
    shown = re.findall(r'<td data-label="Id"><code>([^<]+)</code></td>', page)
    assert shown and all(i.startswith("sales/") for i in shown)
    assert '<option value="sales" selected>' in page


def test_as_of_shows_the_past_with_a_banner(console: Console) -> None:
    head = answers.health(console.reg)["head"]["position"]
    _update(console, "revenue/mrr", {"display_name": "MRR (new name)"}, "rename")
    past = console["analyst"].get(f"/?at_position={head}").text
    assert "You are looking at the past" in text_of(past)
    assert "Monthly Recurring Revenue" in past and "MRR (new name)" not in past
    now = console["analyst"].get("/").text
    assert "You are looking at the past" not in text_of(now) and "MRR (new name)" in now
    when = answers.metric_record(console.reg, "revenue/mrr")["versions"][-1]["recorded_at"]
    by_time = console["analyst"].get(f"/?as_of={when}").text
    assert "You are looking at the past" in text_of(by_time) and "MRR (new name)" not in by_time


def test_bad_as_of_input_is_named_on_the_page(console: Console) -> None:
    for query, words in (
        ("as_of=last+tuesday", "as_of: 'last tuesday' is not a time"),
        ("at_position=-3", "at_position: must be a log position"),
        ("at_position=999999", "at_position: 999999 is past the log's head"),
    ):
        answer = console["analyst"].get(f"/?{query}")
        assert answer.status_code in (404, 422), query
        assert words in text_of(answer.text).replace("&#39;", "'"), query


def test_the_registry_pages_through_many_metrics(console: Console) -> None:
    for n in range(120):
        answers.create_metric(
            console.reg,
            metric_fields(name=f"m{n:03d}", category="bulk", display_name=f"Bulk {n:03d}"),
            WriteContext(actor="loader"),
        )
    seen: list[str] = []
    path = "/?category=bulk"
    while path:
        page = console["analyst"].get(path).text
        seen += re.findall(r'<td data-label="Id"><code>([^<]+)</code></td>', page)
        found = re.search(r'<a rel="next" href="([^"]+)"', page)
        path = found.group(1).replace("&amp;", "&") if found else ""
    assert seen == [m["id"] for m in answers.metric_list(console.reg, "bulk")["metrics"]]
    assert len(seen) == 120


def test_the_zip_download_is_the_registrys_export(console: Console) -> None:
    head = answers.health(console.reg)["head"]["position"]
    _update(console, "revenue/mrr", {"unit": "EUR"}, "x")
    for query, position in (("", None), (f"?at_position={head}", head)):
        answer = console["analyst"].get(f"/registry.zip{query}")
        assert answer.headers["content-type"] == "application/zip"
        assert "attachment" in answer.headers["content-disposition"]
        expected = answers.export_zip(console.reg, at_position=position)
        got, want = (
            zipfile.ZipFile(io.BytesIO(answer.content)),
            zipfile.ZipFile(io.BytesIO(expected)),
        )
        assert {n: got.read(n) for n in got.namelist()} == {
            n: want.read(n) for n in want.namelist()
        }
    assert b"unit: EUR" not in zipfile.ZipFile(
        io.BytesIO(console["analyst"].get(f"/registry.zip?at_position={head}").content)
    ).read("revenue/mrr.yml")


def test_a_metric_page_shows_its_definition_and_timeline(console: Console) -> None:
    _update(console, "revenue/mrr", {"unit": "EUR", "notes": ["One.", "Two."]}, "finance asked")
    html = console["analyst"].get("/metrics/revenue/mrr").text
    page = text_of(html)
    metric = answers.metric(console.reg, "revenue/mrr")
    assert '<pre class="sql"><code>' + metric["sql"].split("\n")[0] in html
    assert '<ul class="notes"><li>One.</li><li>Two.</li></ul>' in html
    assert f'<a href="/columns/{metric["table_name"]}">' in html
    for variant in metric["sql_variants"]:
        assert f"<h4><code>{variant}</code></h4>" in html
    # The timeline, newest first: version, what, who, when (UTC), why, door, writer, label,
    # batch, fields changed. A hand edit is `manual` and leaves the import's label behind.
    assert re.search(
        r"v2 diff updated admin-person \d{4}-\d\d-\d\d \d\d:\d\d:\d\d UTC finance asked api manual unit, notes, source, source_ref v1",
        page,
    )
    assert re.search(r"v1 created setup .* UTC\s+python yaml_import starter_pack import-", page)
    # Analysts get no roll back control.
    assert "Roll back" not in page and "/rollback" not in html


def test_a_metric_page_shows_one_version_when_asked(console: Console) -> None:
    _update(console, "revenue/mrr", {"unit": "EUR"}, "x")
    page = text_of(console["analyst"].get("/metrics/revenue/mrr?version=1").text)
    assert "You are looking at version 1 of 2" in page
    assert "Unit USD" in page


def test_a_deleted_metric_keeps_its_page_and_history(console: Console) -> None:
    assert (
        console.api("DELETE", "/api/admin/metrics/revenue/arr?reason=duplicate").status_code == 200
    )
    html = console["analyst"].get("/metrics/revenue/arr").text
    page = text_of(html)
    assert "deleted" in page and "This metric was deleted at version 2" in page
    assert re.search(r"v2 diff deleted admin-person .* UTC duplicate api manual", page)
    assert re.search(r"v1 created setup .* UTC\s+python yaml_import", page)
    assert 'class="deleted"' in html
    assert "Restore" not in page  # analysts cannot restore
    assert "Restore it" in text_of(console["admin"].get("/metrics/revenue/arr").text)


def test_compare_shows_fields_and_sql_side_by_side(console: Console) -> None:
    old_sql = answers.metric(console.reg, "revenue/mrr")["sql"]
    # On one line now, and one word more: one formatter lays out both sides, so only the
    # line that really changed shows, with the word that changed marked.
    new_sql = " ".join(old_sql.replace("SUM(", "SUM(DISTINCT ", 1).split())
    new_sql = new_sql.replace("ORDER BY 1", "HAVING COUNT(*) > 0 ORDER BY 1")
    _update(console, "revenue/mrr", {"sql": new_sql, "unit": "EUR"}, "x")
    html = console["analyst"].get("/metrics/revenue/mrr/diff?from=1&to=2").text
    diff = answers.metric_diff(console.reg, "revenue/mrr", 1, 2)
    assert "Version 1 beside version 2" in text_of(html)
    assert re.search(
        r'<th scope="row">unit</th>\s*<td class="old"[^>]*>USD</td>\s*<td class="new"[^>]*>EUR</td>',
        html,
    )
    rows = re.findall(r'<tr class="(same|changed|removed|added)">', html)
    assert rows == [r["kind"] for r in diff["sql_side_by_side"]]
    assert rows.count("changed") == 1 and rows.count("added") == 2, rows
    assert "SUM(<mark>DISTINCT </mark>mrr_amount) AS mrr" in html
    assert "HAVING" in html
    # Two times: the versions in force then.
    first = answers.metric_record(console.reg, "revenue/mrr")["versions"][-1]["recorded_at"]
    by_time = console["analyst"].get(
        f"/metrics/revenue/mrr/diff?from_time={first}&to_time=2999-01-01"
    )
    assert "Version 1 beside version 2" in text_of(by_time.text)


def test_unknown_metrics_and_versions_are_404_pages(console: Console) -> None:
    for path in (
        "/metrics/revenue/nope",
        "/metrics/revenue/mrr?version=9",
        "/metrics/revenue/mrr/diff?from=1&to=9",
    ):
        answer = console["analyst"].get(path)
        assert answer.status_code == 404, path
        assert answer.headers["content-type"].startswith("text/html")
        assert "Not found" in answer.text


def test_text_from_the_registry_is_escaped(console: Console) -> None:
    _update(
        console,
        "revenue/mrr",
        {"description": "<script>alert(1)</script>", "notes": ['"><img src=x onerror=alert(1)>']},
        "<b>x</b>",
    )
    for path in ("/metrics/revenue/mrr", "/?q=recurring", "/metrics/revenue/mrr/diff"):
        html = console["admin"].get(path).text
        assert "<script>alert" not in html and "<img src=x" not in html and "<b>x</b>" not in html
    assert (
        "&lt;script&gt;alert(1)&lt;/script&gt;" in console["admin"].get("/metrics/revenue/mrr").text
    )


def test_a_tables_page_shows_its_columns_and_their_history(console: Console) -> None:
    for description in ("Monthly amount", "Monthly amount in USD"):
        answer = console.api(
            "PUT",
            "/api/admin/columns/subscriptions/mrr_amount",
            json={"basetype": "NUMERIC", "description": description, "reason": "doc"},
        )
        assert answer.status_code == 200, answer.text
    page = text_of(console["analyst"].get("/columns/subscriptions").text)
    assert "mrr_amount v2" in page and "Monthly amount in USD" in page
    assert "History (2 versions)" in page
    assert "Monthly Recurring Revenue revenue/mrr" in page
    empty = text_of(console["analyst"].get("/columns/no_such_table").text)
    assert (
        "No column of this table is described yet" in empty
        and "No metric reads this table" in empty
    )


def test_an_unknown_page_is_a_page_and_an_unknown_api_path_is_json(console: Console) -> None:
    page = console["analyst"].get("/no/such/page", headers={"Accept": "text/html"})
    assert page.status_code == 404 and "there is no page at /no/such/page" in text_of(page.text)
    assert page.headers["x-frame-options"] == "DENY"
    api = console["analyst"].get("/api/no/such", headers={"Accept": "text/html"})
    assert api.status_code == 404 and api.json()["detail"] == "Not Found"


def test_a_metric_in_force_at_a_business_date(console: Console) -> None:
    from datetime import UTC, datetime, timedelta

    soon = (datetime.now(UTC) + timedelta(days=2)).date().isoformat()
    later = (datetime.now(UTC) + timedelta(days=3)).date().isoformat()
    change = {"sql": "SELECT 2 AS mrr", "effective_from": soon}
    assert _update(console, "revenue/mrr", change, "the new rule") == 2
    base = "/metrics/revenue/mrr"
    now = text_of(console["analyst"].get(base).text)
    assert "SELECT 2 AS mrr" not in now
    then = text_of(console["analyst"].get(f"{base}?valid_at={later}").text)
    answer = answers.metric(console.reg, "revenue/mrr", valid_at=datetime.fromisoformat(later))
    assert answer["sql"] == "SELECT 2 AS mrr" and answer["sql"] in then
    assert (
        f"You are looking at the definition in force at {later} 00:00:00 UTC : version 2,"
        f" in force from {soon} 00:00:00 UTC" in then
    )
    rows = answers.metric_timeline(console.reg, "revenue/mrr")["versions"]
    assert [r["status"] for r in rows] == ["in force", "scheduled"]
    for row in rows:
        assert f"v{row['version']}" in now and row["status"] in now
    bad = console["analyst"].get(f"{base}?valid_at=soon")
    assert bad.status_code == 422 and "valid_at" in text_of(bad.text)
