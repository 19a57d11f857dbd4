"""What a metric's SQL computes, read with sqlglot: the table, the time bucket, the value's
aggregates and formula, and the filter, when the SQL has the one plain shape other tools can
express exactly:

    SELECT <time column | date_trunc('<unit>', <time column>)> AS <bucket>,
           <value: aggregates of <table>'s columns, combined by arithmetic> AS <name>
           [, further aggregates]
    FROM <table> [WHERE <condition on <table>'s columns>] GROUP BY 1 [ORDER BY 1]

Anything else (CTEs, joins, subqueries, windows, HAVING, LIMIT) is `NotPlain`, with the
reason in words. sqlglot is the parser because it reads DuckDB's dialect into a syntax tree
that can be walked and written back (a filter's columns become dbt's `Dimension` references).
"""

from __future__ import annotations

from dataclasses import dataclass

import sqlglot
from sqlglot import exp
from sqlglot.errors import ParseError

_UNITS = ("day", "week", "month", "quarter", "year")
# sqlglot's aggregate nodes, and the name other tools give each.
_AGGREGATES: dict[type[exp.Expression], str] = {
    exp.Sum: "sum",
    exp.Avg: "average",
    exp.Min: "min",
    exp.Max: "max",
    exp.Count: "count",
}
_ARITHMETIC = (exp.Add, exp.Sub, exp.Mul, exp.Div, exp.Paren, exp.Neg, exp.Literal)


class NotPlain(ValueError):
    """The SQL is not of the plain shape; the message says what it has instead."""


@dataclass(frozen=True)
class Aggregate:
    """One aggregate of the value: `agg` (sum, count, count_distinct, average, min, max) over
    `expr` (SQL of the table's columns)."""

    agg: str
    expr: str


@dataclass(frozen=True)
class PlainMetric:
    """A plain metric SQL, read."""

    table: str
    time_column: str
    grain: str  # the bucket's unit; a raw time column is bucketed by day (its own value)
    raw_time: bool  # the bucket is the time column itself, not date_trunc of it
    value: str  # the value column's name
    aggregates: tuple[Aggregate, ...]
    formula: str  # the value with each aggregate written `{0}`, `{1}`, ...
    where: str | None  # the filter, in DuckDB's dialect
    where_columns: tuple[str, ...]
    extra: tuple[str, ...]  # further value columns, not described here

    def filter_with(self, column_ref: str) -> str | None:
        """The filter with each column written through `column_ref` (a format string with
        `{column}`), as another tool names the column."""
        if self.where is None:
            return None
        tree = sqlglot.parse_one(self.where, read="duckdb")

        def rename(node: exp.Expression) -> exp.Expression:
            if isinstance(node, exp.Column):
                return exp.Var(this=column_ref.format(column=node.name))
            return node

        return str(tree.transform(rename).sql(dialect="duckdb"))


def read_plain(sql: str) -> PlainMetric:
    """The plain metric `sql` computes; NotPlain says why it is not plain."""
    try:
        statements = [s for s in sqlglot.parse(sql, read="duckdb") if s is not None]
    except ParseError as exc:
        raise NotPlain(f"the SQL does not parse: {str(exc).splitlines()[0]}") from exc
    if len(statements) != 1 or not isinstance(statements[0], exp.Select):
        raise NotPlain("the SQL is not one SELECT")
    select = statements[0]
    for part, words in (
        ("with_", "a WITH clause"),
        ("joins", "a join"),
        ("having", "HAVING"),
        ("limit", "LIMIT"),
        ("qualify", "QUALIFY"),
        ("distinct", "SELECT DISTINCT"),
    ):
        if select.args.get(part):
            raise NotPlain(f"the SQL has {words}")
    table = _table(select)
    items = select.expressions
    if len(items) < 2:
        raise NotPlain("the SQL selects no time bucket and value")
    time_column, grain, raw_time = _bucket(items[0])
    _group_by_bucket(select, items[0])
    value = items[1]
    if not isinstance(value, exp.Alias):
        raise NotPlain("the value column has no name (AS ...)")
    aggregates, formula = _value(value.this)
    where = select.args.get("where")
    condition = where.this if where is not None else None
    columns: tuple[str, ...] = ()
    if condition is not None:
        if condition.find(exp.Select, exp.Subquery, exp.AggFunc, exp.Window):
            raise NotPlain("the filter holds a subquery, an aggregate or a window")
        columns = tuple(dict.fromkeys(_column(c) for c in condition.find_all(exp.Column)))
    return PlainMetric(
        table=table,
        time_column=time_column,
        grain=grain,
        raw_time=raw_time,
        value=value.alias,
        aggregates=aggregates,
        formula=formula,
        where=condition.sql(dialect="duckdb") if condition is not None else None,
        where_columns=columns,
        extra=tuple(i.alias_or_name for i in items[2:]),
    )


def _table(select: exp.Select) -> str:
    source = select.args.get("from_") or select.args.get("from")
    found = source.this if source is not None else None
    if not isinstance(found, exp.Table) or found.args.get("db") or found.args.get("catalog"):
        raise NotPlain("the SQL does not read one table by its plain name")
    if found.alias:
        raise NotPlain("the SQL names its table by an alias")
    return str(found.name)


def _column(node: exp.Column) -> str:
    if node.table:
        raise NotPlain(f"column {node.sql()} is qualified")
    return str(node.name)


def _bucket(item: exp.Expression) -> tuple[str, str, bool]:
    """The time column and the unit of the first select item."""
    inner = item.this if isinstance(item, exp.Alias) else item
    if isinstance(inner, exp.Cast):
        inner = inner.this
    if isinstance(inner, exp.Column):
        return _column(inner), "day", True
    if isinstance(inner, exp.TimestampTrunc | exp.DateTrunc):
        given = inner.args.get("unit")
        unit = str(given.name if given is not None else "").lower()
        column = inner.this
        if unit in _UNITS and isinstance(column, exp.Column):
            return _column(column), unit, False
    raise NotPlain("the first column is not a time column or date_trunc of one")


def _group_by_bucket(select: exp.Select, bucket: exp.Expression) -> None:
    group = select.args.get("group")
    keys = group.expressions if group is not None else []
    inner = bucket.this if isinstance(bucket, exp.Alias) else bucket
    if len(keys) != 1:
        raise NotPlain("the SQL does not group by its time bucket alone")
    key = keys[0]
    by_position = isinstance(key, exp.Literal) and key.name == "1"
    by_alias = isinstance(key, exp.Column) and key.name == bucket.alias_or_name
    if not (by_position or by_alias or key == inner):
        raise NotPlain("the SQL does not group by its time bucket alone")


def _value(tree: exp.Expression) -> tuple[tuple[Aggregate, ...], str]:
    """The aggregates of a value expression and its formula over them."""
    found: list[Aggregate] = []

    def walk(node: exp.Expression) -> str:
        aggregate = _aggregate(node)
        if aggregate is not None:
            found.append(aggregate)
            return "{" + str(len(found) - 1) + "}"
        if isinstance(node, exp.Paren):
            return f"({walk(node.this)})"
        if isinstance(node, exp.Neg):
            return f"-{walk(node.this)}"
        if isinstance(node, exp.Literal) and not node.is_string:
            return str(node.name)
        if isinstance(node, exp.Binary) and isinstance(node, _ARITHMETIC):
            op = {exp.Add: "+", exp.Sub: "-", exp.Mul: "*", exp.Div: "/"}[type(node)]
            return f"{walk(node.this)} {op} {walk(node.expression)}"
        raise NotPlain(f"the value {tree.sql(dialect='duckdb')} is not arithmetic of aggregates")

    formula = walk(tree)
    if not found:
        raise NotPlain("the value has no aggregate")
    return tuple(found), formula


def _aggregate(node: exp.Expression) -> Aggregate | None:
    kind = _AGGREGATES.get(type(node))
    if kind is None:
        return None
    argument = node.this
    if isinstance(argument, exp.Distinct):
        if kind != "count" or len(argument.expressions) != 1:
            raise NotPlain(f"{node.sql(dialect='duckdb')} is not a plain aggregate")
        kind, argument = "count_distinct", argument.expressions[0]
    if isinstance(argument, exp.Star):
        if kind != "count":
            raise NotPlain(f"{node.sql(dialect='duckdb')} is not a plain aggregate")
        return Aggregate("sum", "1")  # COUNT(*) counts rows: the sum of 1 per row
    if argument is None or argument.find(exp.AggFunc, exp.Select, exp.Window):
        raise NotPlain(f"{node.sql(dialect='duckdb')} is not a plain aggregate")
    for column in argument.find_all(exp.Column):
        _column(column)
    return Aggregate(kind, argument.sql(dialect="duckdb"))
