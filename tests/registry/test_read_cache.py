"""The server's read cache: a hot lookup is answered from memory until the next write."""

from __future__ import annotations

import duckdb
import pytest

from registry import NotFoundError, queries
from registry.commands import WriteContext, create_metric, delete_metric, update_metric
from storage.cache import ReadCache
from storage.session import RegistryPool
from tests.conftest import metric_fields

CTX = WriteContext(actor="alice")


def test_pool_registries_see_each_others_writes_at_once(conn: duckdb.DuckDBPyConnection) -> None:
    pool = RegistryPool(conn)
    with pool.lease() as writer:
        create_metric(writer, metric_fields(), CTX)
        with pool.lease() as reader:  # a second registry, on its own cursor
            row, version = queries.metric_with_version(reader, "revenue/mrr")
            assert (row["unit"], version) == ("USD", 1)
            assert queries.cached_metric_with_version(reader, "revenue/mrr") == (row, 1)

            update_metric(writer, "revenue/mrr", {"unit": "EUR"}, CTX)
            assert queries.cached_metric_with_version(reader, "revenue/mrr") is None
            row, version = queries.metric_with_version(reader, "revenue/mrr")
            assert (row["unit"], version) == ("EUR", 2)

            delete_metric(writer, "revenue/mrr", CTX)
            with pytest.raises(NotFoundError):
                queries.metric_with_version(reader, "revenue/mrr")


def test_callers_cannot_change_the_cached_answer(conn: duckdb.DuckDBPyConnection) -> None:
    pool = RegistryPool(conn)
    with pool.lease() as reg:
        create_metric(reg, metric_fields(synonyms=["monthly_revenue"]), CTX)
        row, _ = queries.metric_with_version(reg, "revenue/mrr")
        row["synonyms"].append("changed by a caller")
        row["unit"] = "changed"
        again, _ = queries.metric_with_version(reg, "revenue/mrr")
        assert (again["synonyms"], again["unit"]) == (["monthly_revenue"], "USD")


def test_an_answer_read_across_a_commit_is_not_kept() -> None:
    cache = ReadCache()

    def read_while_a_write_commits() -> str:
        cache.invalidate()  # a commit lands while this answer is being read
        return "possibly stale"

    assert cache.get("key", read_while_a_write_commits) == "possibly stale"
    assert cache.peek("key") is None
    assert cache.get("key", lambda: "fresh") == "fresh"
    assert cache.peek("key") == "fresh"
