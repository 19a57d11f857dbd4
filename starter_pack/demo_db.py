"""A small, deterministic demo analytics database for the starter metrics.

Two years (2024-2025) of a fictional SaaS company: orders, monthly subscription snapshots and
the changes between them, product events, sales opportunities, support tickets and cloud
costs. The same seed gives the same data, row for row.
"""

from __future__ import annotations

import random
from dataclasses import dataclass, field
from datetime import date, datetime, timedelta
from pathlib import Path
from typing import Any

import duckdb

FIRST_MONTH = date(2024, 1, 1)
MONTHS = 24
REGIONS = ("NA", "EMEA", "APAC", "LATAM")
CHANNELS = ("web", "sales", "partner")
PLANS = {"starter": 49.0, "growth": 199.0, "enterprise": 999.0}
FEATURES = ("dashboards", "reports", "alerts", "api", "exports")

SCHEMA_SQL = (
    "CREATE TABLE orders (order_id INTEGER PRIMARY KEY, customer_id INTEGER, order_date DATE,"
    " total_amount DECIMAL(12, 2), channel VARCHAR, region VARCHAR, status VARCHAR)",
    "CREATE TABLE subscriptions (subscription_id INTEGER, customer_id INTEGER,"
    " plan_type VARCHAR, region VARCHAR, billing_date DATE, mrr_amount DECIMAL(12, 2),"
    " status VARCHAR)",
    "CREATE TABLE subscription_changes (change_id INTEGER PRIMARY KEY, subscription_id INTEGER,"
    " customer_id INTEGER, change_date DATE, change_type VARCHAR, delta_mrr DECIMAL(12, 2))",
    "CREATE TABLE user_events (event_id INTEGER PRIMARY KEY, user_id INTEGER, event_date DATE,"
    " feature VARCHAR, plan_type VARCHAR, event_type VARCHAR)",
    "CREATE TABLE opportunities (opportunity_id INTEGER PRIMARY KEY, owner VARCHAR,"
    " stage VARCHAR, deal_value DECIMAL(12, 2), probability INTEGER,"
    " expected_close_date DATE, created_date DATE)",
    "CREATE TABLE tickets (ticket_id INTEGER PRIMARY KEY, created_at TIMESTAMP,"
    " resolved_at TIMESTAMP, priority VARCHAR, category VARCHAR, status VARCHAR,"
    " resolution_hours DOUBLE)",
    "CREATE TABLE infra_costs (billing_month DATE, provider VARCHAR, service VARCHAR,"
    " environment VARCHAR, cost_usd DECIMAL(12, 2))",
)


def month(index: int) -> date:
    """The first day of the index-th month from January 2024."""
    year, offset = divmod(FIRST_MONTH.month - 1 + index, 12)
    return date(FIRST_MONTH.year + year, offset + 1, 1)


def day_in(rng: random.Random, index: int) -> date:
    return month(index) + timedelta(days=rng.randrange(28))


@dataclass
class _Tables:
    rows: dict[str, list[tuple[Any, ...]]] = field(default_factory=dict)

    def add(self, table: str, row: tuple[Any, ...]) -> None:
        self.rows.setdefault(table, []).append(row)


def _snapshot(out: _Tables, sub_id: int, sub: dict[str, Any], m: int, status: str) -> None:
    row = (sub_id, sub["customer"], sub["plan"], sub["region"], month(m), sub["mrr"], status)
    out.add("subscriptions", row)


def _subscriptions(rng: random.Random, out: _Tables) -> None:
    """Monthly snapshots; each month's changes are dated in it, so MRR(m) - MRR(m-1) = deltas."""
    live: dict[int, dict[str, Any]] = {}
    next_id = 1
    for m in range(MONTHS):
        for sub_id, sub in list(live.items()):
            roll = rng.random()
            if roll < 0.03:
                out.add("changes", (sub_id, sub["customer"], day_in(rng, m), "churn", -sub["mrr"]))
                _snapshot(out, sub_id, sub, m, "churned")
                del live[sub_id]
                continue
            if roll < 0.07:
                kind, delta = "expansion", round(sub["mrr"] * rng.uniform(0.1, 0.3), 2)
            elif roll < 0.09:
                kind, delta = "downgrade", -round(sub["mrr"] * rng.uniform(0.1, 0.3), 2)
            elif roll < 0.11 and sub["plan"] != "enterprise":
                plan = "growth" if sub["plan"] == "starter" else "enterprise"
                kind, delta = "upgrade", PLANS[plan] - PLANS[sub["plan"]]
                sub["plan"] = plan
            else:
                kind, delta = "", 0.0
            if kind:
                sub["mrr"] = round(sub["mrr"] + delta, 2)
                out.add("changes", (sub_id, sub["customer"], day_in(rng, m), kind, delta))
        for _ in range(rng.randint(18, 32)):
            plan = rng.choices(list(PLANS), weights=(6, 3, 1))[0]
            sub = {
                "customer": next_id,
                "plan": plan,
                "region": rng.choice(REGIONS),
                "mrr": PLANS[plan],
            }
            live[next_id] = sub
            out.add("changes", (next_id, next_id, day_in(rng, m), "new", sub["mrr"]))
            next_id += 1
        for sub_id, sub in live.items():
            _snapshot(out, sub_id, sub, m, "active")


def _orders(rng: random.Random, out: _Tables) -> None:
    customers: list[tuple[int, str, str]] = []
    for m in range(MONTHS):
        for _ in range(rng.randint(25, 45)):
            customers.append((len(customers) + 1, rng.choice(CHANNELS), rng.choice(REGIONS)))
        buyers = rng.sample(customers, k=min(len(customers), rng.randint(120, 200)))
        for customer, channel, region in buyers:
            status = rng.choices(("completed", "refunded", "cancelled"), weights=(90, 6, 4))[0]
            amount = round(rng.lognormvariate(5.0, 0.8), 2)
            out.add("orders", (customer, day_in(rng, m), amount, channel, region, status))


def _product(rng: random.Random, out: _Tables) -> None:
    users = [(u, rng.choice(list(PLANS))) for u in range(1, 701)]
    for m in range(MONTHS):
        reach = 0.45 + 0.2 * m / MONTHS
        for user, plan in users:
            if rng.random() > reach:
                continue
            for _ in range(rng.randint(1, 6)):
                feature = rng.choices(FEATURES, weights=(10, 6, 3, 2, 1))[0]
                event = rng.choice(("view", "create", "share"))
                out.add("events", (user, day_in(rng, m), feature, plan, event))


_STAGES = {
    "prospecting": 10,
    "qualification": 20,
    "proposal": 40,
    "negotiation": 60,
    "closed_won": 100,
    "closed_lost": 0,
}


def _sales_and_support(rng: random.Random, out: _Tables) -> None:
    owners = ("avery", "blake", "casey", "devon")
    for _ in range(480):
        created = rng.randrange(MONTHS)
        stage = rng.choice(list(_STAGES))
        close = min(created + rng.randint(1, 6), MONTHS - 1)
        out.add(
            "opportunities",
            (
                rng.choice(owners),
                stage,
                round(rng.uniform(2_000, 60_000), 2),
                _STAGES[stage],
                day_in(rng, close),
                day_in(rng, created),
            ),
        )
    for m in range(MONTHS):
        for _ in range(rng.randint(100, 160)):
            opened = datetime.combine(day_in(rng, m), datetime.min.time()) + timedelta(
                minutes=rng.randrange(24 * 60)
            )
            priority = rng.choices(("low", "medium", "high", "urgent"), weights=(4, 4, 2, 1))[0]
            category = rng.choice(("billing", "bug", "how_to", "access"))
            if rng.random() < 0.9:
                hours = round(rng.lognormvariate(2.5, 0.9), 2)
                row: tuple[Any, ...] = (
                    opened,
                    opened + timedelta(hours=hours),
                    priority,
                    category,
                    "resolved",
                    hours,
                )
            else:
                row = (opened, None, priority, category, "open", None)
            out.add("tickets", row)


def _infrastructure(rng: random.Random, out: _Tables) -> None:
    base = {"compute": 9_000.0, "storage": 2_500.0, "database": 4_000.0, "network": 1_200.0}
    share = {"production": 1.0, "staging": 0.25, "development": 0.1}
    for m in range(MONTHS):
        growth = 1 + 0.02 * m
        for provider, weight in (("aws", 0.7), ("gcp", 0.3)):
            for service, cost in base.items():
                for environment, factor in share.items():
                    amount = cost * weight * factor * growth * rng.uniform(0.9, 1.1)
                    out.add("infra", (month(m), provider, service, environment, round(amount, 2)))


def generate(seed: int) -> dict[str, list[tuple[Any, ...]]]:
    """Every table's rows for a seed (ids included), in insertion order."""
    rng = random.Random(seed)  # noqa: S311 - demo data, not security
    out = _Tables()
    _subscriptions(rng, out)
    _orders(rng, out)
    _product(rng, out)
    _sales_and_support(rng, out)
    _infrastructure(rng, out)
    numbered = {
        "orders": "orders",
        "changes": "subscription_changes",
        "events": "user_events",
        "opportunities": "opportunities",
        "tickets": "tickets",
    }
    tables = {
        "subscriptions": out.rows["subscriptions"],
        "infra_costs": out.rows["infra"],
    }
    for key, table in numbered.items():
        tables[table] = [(i, *row) for i, row in enumerate(out.rows[key], start=1)]
    return tables


TABLES = (
    "orders",
    "subscriptions",
    "subscription_changes",
    "user_events",
    "opportunities",
    "tickets",
    "infra_costs",
)
_INSERT_SQL = {t: "INSERT INTO " + t + " SELECT * FROM _rows" for t in TABLES}  # noqa: S608 - fixed
_COLUMNS_SQL = (
    "SELECT column_name FROM information_schema.columns WHERE table_name = ?"
    " ORDER BY ordinal_position"
)


def _insert(conn: duckdb.DuckDBPyConnection, table: str, rows: list[tuple[Any, ...]]) -> None:
    import pyarrow as pa  # bulk load: executemany inserts ~1,000 rows/s

    names = [r[0] for r in conn.execute(_COLUMNS_SQL, [table]).fetchall()]
    columns = list(zip(*rows, strict=True))
    data = pa.table({name: list(values) for name, values in zip(names, columns, strict=True)})
    conn.register("_rows", data)
    try:
        conn.execute(_INSERT_SQL[table])
    finally:
        conn.unregister("_rows")


def build_demo_database(path: Path, seed: int = 7) -> Path:
    """Create (or replace) the demo analytics database at `path`; returns the path."""
    path.parent.mkdir(parents=True, exist_ok=True)
    temporary = path.with_name(path.name + ".building")
    for leftover in (temporary, Path(str(temporary) + ".wal")):
        leftover.unlink(missing_ok=True)
    conn = duckdb.connect(str(temporary))
    try:
        for statement in SCHEMA_SQL:
            conn.execute(statement)
        for table, rows in generate(seed).items():
            _insert(conn, table, rows)
        conn.execute("CHECKPOINT")
    finally:
        conn.close()
    temporary.replace(path)
    return path
