"""Apache Ossie interchange (issue 19, item 4): documents written from the spec import and
compute what they say; the registry exports valid documents; a round trip is lossless."""

from __future__ import annotations

from pathlib import Path

import duckdb
import pytest
import yaml

from registry import ColumnMetadataRepository, MetricRepository, answers
from registry.interchange.loading import read_document
from registry.interchange.ossie_model import parse_document

FIXTURES = Path(__file__).with_name("ossie")
RETAIL = FIXTURES / "retail.yaml"


@pytest.fixture
def shop(tmp_path: Path) -> Path:
    """The retail document's tables: four sales lines, three customers, two stores."""
    path = tmp_path / "shop.duckdb"
    conn = duckdb.connect(str(path))
    conn.execute(
        "CREATE TABLE store_sales AS SELECT * FROM (VALUES"
        " (1, 100, 1, 1, 10.0, 4.0, DATE '2024-01-02'), (2, 100, 1, 1, 20.0, 5.0, DATE '2024-01-02'),"
        " (1, 101, 2, 2, 30.0, 10.0, DATE '2024-02-03'), (3, 102, 2, 2, 40.0, 30.0, DATE '2024-02-04'))"
        " AS t(ss_item_sk, ss_ticket_number, ss_customer_sk, ss_store_sk, ss_ext_sales_price,"
        " ss_cost, ss_sold_date)"
    )
    conn.execute(
        "CREATE TABLE customer AS SELECT * FROM (VALUES (1, 'DE'), (2, 'FR'), (3, 'IT'))"
        " AS t(c_customer_sk, c_country)"
    )
    conn.execute(
        "CREATE TABLE store AS SELECT * FROM (VALUES (1, 4), (2, 6)) AS t(s_store_sk, s_number_employees)"
    )
    conn.execute("CREATE TABLE promotion (p_promo_sk INTEGER)")
    conn.close()
    return path


def _value(repo: MetricRepository, db: Path, metric_id: str) -> float:
    [row] = answers.run_metric(repo.registry, db, metric_id)["rows"]
    return float(row[0])


def test_a_retail_document_imports_and_computes_what_it_says(
    repo: MetricRepository, shop: Path
) -> None:
    report = repo.import_from_ossie(RETAIL)
    assert sorted(report["added"]) == [
        "retail/customer_lifetime_value",
        "retail/sales_per_employee",
        "retail/total_profit",
        "retail/total_sales",
    ]
    assert report["skipped"] == {
        "retail.promotions_used": "no relationship joins 'promotion' and 'store_sales'",
        "retail.snowflake_only": "it has no ANSI_SQL expression",
    }
    total = repo.get("retail/total_sales")
    assert total is not None
    assert (total["table_name"], total["time_column"], total["synonyms"]) == (
        "shop.main.store_sales",
        "ss_sold_date",
        ["revenue", "gross sales"],
    )
    assert _value(repo, shop, "retail/total_sales") == 100.0
    assert _value(repo, shop, "retail/total_profit") == 100.0 - 49.0  # a field's expression
    # Spanning datasets: joined along the document's relationships.
    assert _value(repo, shop, "retail/customer_lifetime_value") == 50.0  # 100 over 2 buyers
    spanning = repo.get("retail/sales_per_employee")
    assert spanning is not None and spanning["tables"] == ["shop.main.store"]
    assert (
        "JOIN shop.main.store AS store ON store_sales.ss_store_sk = store.s_store_sk"
        in (spanning["sql"])
    )
    assert _value(repo, shop, "retail/sales_per_employee") == pytest.approx(100 / 20)
    # Described fields become column metadata, in the same batch.
    described = ColumnMetadataRepository(repo.registry.conn).get("shop.main.customer", "c_country")
    assert described is not None and (described["description"], described["basetype"]) == (
        "Where the customer lives.",
        "STRING",
    )
    assert len(report["columns_written"]) == 3
    history = repo.history("retail/total_sales")
    assert (history[0]["writer"], history[0]["door"]) == ("ossie_import", "python")
    again = repo.import_from_ossie(RETAIL)
    assert again["written"] == [] and again["columns_written"] == []


BROKEN = {
    "version: '0.1'": ("version", "Input should be '0.2.0.dev0'"),
    "colour: blue": ("colour", "Extra inputs are not permitted"),
    "twice": ("semantic_model.0", "metric name 'total_sales' is given twice"),
    "unknown dataset": ("semantic_model.0.relationships.0.to", "no dataset 'nowhere'"),
    "bad SQL": ("semantic_model.0.metrics.0.expression.dialects.0", "SQL syntax error"),
}


def _broken(case: str) -> dict[str, object]:
    document = yaml.safe_load(RETAIL.read_text())
    model = document["semantic_model"][0]
    if case == "version: '0.1'":
        document["version"] = "0.1"
    elif case == "colour: blue":
        document["colour"] = "blue"
    elif case == "twice":
        model["metrics"].append(dict(model["metrics"][0]))
    elif case == "unknown dataset":
        model["relationships"][0]["to"] = "nowhere"
    else:
        model["metrics"][0]["expression"]["dialects"][0]["expression"] = "SUM(store_sales.("
    return document


@pytest.mark.parametrize("case", list(BROKEN))
def test_an_invalid_document_is_reported_by_place_and_nothing_of_it_is_written(
    repo: MetricRepository, tmp_path: Path, case: str
) -> None:
    path = tmp_path / "broken.yaml"
    path.write_text(yaml.safe_dump(_broken(case)))
    report = repo.import_from_ossie(path)
    place, words = BROKEN[case]
    [(shown, problems)] = report["problems"].items()  # named relative to the folder
    assert shown.endswith("broken.yaml")
    [problem] = [p for p in problems if f"broken.yaml: {place}" in p]
    assert words in problem
    assert report["added"] == [] and report["columns_written"] == []


def test_registry_to_ossie_to_a_fresh_registry_is_lossless(
    starter: MetricRepository, tmp_path: Path
) -> None:
    columns = ColumnMetadataRepository(starter.registry.conn, actor="alice")
    columns.save("subscriptions", "status", basetype="STRING", description="State")
    columns.save("in.c-crm.accounts", "owner", description="Who owns it", confidence="verified")
    written = starter.export_to_ossie(tmp_path / "out")
    assert written["not_exported"] == {
        "product_usage/feature_adoption": "the SQL has a WITH clause",
        "revenue/churn_rate": "the SQL has a WITH clause",
        "sales/new_customers": "the SQL has a WITH clause",
    }
    assert len(written["exported"]) == 8
    for file in written["files"]:  # every document is valid: the schema's rules and ours
        document, issues = parse_document(read_document(Path(file)), file)
        assert document is not None and issues == [], issues
    revenue = yaml.safe_load((tmp_path / "out" / "revenue.yaml").read_text())
    [mrr] = [m for m in revenue["semantic_model"][0]["metrics"] if m["name"] == "mrr"]
    assert mrr["expression"]["dialects"] == [
        {
            "dialect": "ANSI_SQL",
            "expression": "SUM(subscriptions.mrr_amount) FILTER (WHERE subscriptions.status = 'active')",
        }
    ]
    fresh = MetricRepository(duckdb.connect(), actor="bob")
    report = fresh.import_from_ossie(tmp_path / "out")
    assert report["skipped"] == {} and len(report["added"]) == 11

    def same(rows: list[dict[str, object]]) -> list[dict[str, object]]:
        return [{k: v for k, v in r.items() if k not in ("created_at", "updated_at")} for r in rows]

    assert same(fresh.list()) == same(starter.list())
    theirs = ColumnMetadataRepository(fresh.registry.conn)
    for table in ("subscriptions", "in.c-crm.accounts"):
        assert same(theirs.list_for_table(table)) == same(columns.list_for_table(table))
