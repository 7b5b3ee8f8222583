"""Column types that keep money exact and timestamps aware on both database backends."""

from __future__ import annotations

from datetime import UTC, date, datetime
from decimal import Decimal
from typing import Any

from sqlalchemy import BigInteger, ColumnElement, Date, DateTime, Integer, Numeric, String
from sqlalchemy.engine import Dialect
from sqlalchemy.ext.compiler import compiles
from sqlalchemy.types import TypeDecorator, TypeEngine

from infra import secrets

# SQLite's "integer primary key" is the rowid alias that autoincrements; BIGINT is not.
Id = BigInteger().with_variant(Integer(), "sqlite")

MONEY_SCALE = 4


class Money(TypeDecorator[Decimal]):
    """NUMERIC(20, 4) on PostgreSQL; on SQLite, which has no exact decimal type, an integer count
    of 1/10,000 units, so sums and comparisons in SQL stay exact on both backends."""

    scale = MONEY_SCALE
    impl = Numeric(20, MONEY_SCALE)
    cache_ok = True

    def load_dialect_impl(self, dialect: Dialect) -> TypeEngine[Any]:
        if dialect.name == "sqlite":
            return dialect.type_descriptor(BigInteger())
        return dialect.type_descriptor(Numeric(self.impl.precision, self.scale, asdecimal=True))

    def process_bind_param(self, value: Any, dialect: Dialect) -> Any:
        if value is None or dialect.name != "sqlite":
            return value
        scaled = Decimal(value).scaleb(self.scale)
        if scaled != scaled.to_integral_value():
            raise ValueError(f"{value} has more than {self.scale} decimal places")
        return int(scaled)

    def process_result_value(self, value: Any, dialect: Dialect) -> Decimal | None:
        if value is None:
            return None
        if dialect.name == "sqlite":
            return Decimal(int(value)).scaleb(-self.scale)
        return Decimal(value)


class Rate(Money):
    """A unit price or rate with 8 decimals (a commission on a fraction of a cent per point)."""

    scale = 8
    impl = Numeric(26, 8)
    cache_ok = True


class UtcDateTime(TypeDecorator[datetime]):
    """Timestamps are stored and returned in UTC; SQLite would otherwise hand back naive ones."""

    impl = DateTime(timezone=True)
    cache_ok = True

    def process_bind_param(self, value: Any, dialect: Dialect) -> Any:
        if value is None:
            return None
        if value.tzinfo is None:
            raise ValueError("naive datetimes are not stored; give a timezone")
        return value.astimezone(UTC)

    def process_result_value(self, value: Any, dialect: Dialect) -> datetime | None:
        if value is None:
            return None
        if value.tzinfo is None:
            return value.replace(tzinfo=UTC)
        return value.astimezone(UTC)


class Encrypted(TypeDecorator[str]):
    """A secret stored encrypted with the process's data key (infra.secrets); `purpose` (the
    column) is bound into the ciphertext."""

    impl = String
    cache_ok = True

    def __init__(self, length: int, purpose: str) -> None:
        super().__init__(length)
        self.purpose = purpose

    def process_bind_param(self, value: Any, dialect: Dialect) -> Any:
        return None if value is None else secrets.keyring().encrypt(str(value), self.purpose)

    def process_result_value(self, value: Any, dialect: Dialect) -> str | None:
        return None if value is None else secrets.keyring().decrypt(value, self.purpose)


class PlusDays(ColumnElement[datetime]):
    """`column + days`, on PostgreSQL and on SQLite (where timestamps are text): for rules that
    compare each row's time with another's, such as "again within 7 days"."""

    inherit_cache = True
    type = UtcDateTime()

    def __init__(self, column: ColumnElement[datetime], days: int) -> None:
        self.column = column
        self.days = int(days)


@compiles(PlusDays, "postgresql")
def _plus_days_postgresql(element: PlusDays, compiler: Any, **kw: Any) -> str:
    return f"({compiler.process(element.column, **kw)} + make_interval(days => {element.days}))"


@compiles(PlusDays, "sqlite")
def _plus_days_sqlite(element: PlusDays, compiler: Any, **kw: Any) -> str:
    # The stored text has six fractional digits; strftime's %f gives three.
    column = compiler.process(element.column, **kw)
    return f"(strftime('%Y-%m-%d %H:%M:%f', {column}, '+{element.days} days') || '000')"


class MonthEnd(ColumnElement[date]):
    """The last day of the UTC calendar month `months` months after a timestamp column's month
    (2026-01-15 and 24: 2028-01-31), as a date, on PostgreSQL and on SQLite."""

    inherit_cache = True
    type = Date()

    def __init__(self, column: ColumnElement[datetime], months: int) -> None:
        self.column = column
        self.months = int(months)


@compiles(MonthEnd, "postgresql")
def _month_end_postgresql(element: MonthEnd, compiler: Any, **kw: Any) -> str:
    column = compiler.process(element.column, **kw)
    return (f"CAST(date_trunc('month', {column} AT TIME ZONE 'UTC') + interval "
            f"'{element.months + 1} months' - interval '1 day' AS DATE)")  # fmt: skip


@compiles(MonthEnd, "sqlite")
def _month_end_sqlite(element: MonthEnd, compiler: Any, **kw: Any) -> str:
    column = compiler.process(element.column, **kw)
    return f"date({column}, 'start of month', '+{element.months + 1} months', '-1 day')"


class MonthKey(ColumnElement[int]):
    """The UTC calendar month of a timestamp column as year * 100 + month (202611), on
    PostgreSQL and on SQLite: the key of per-month totals built in SQL."""

    inherit_cache = True
    type = Integer()

    def __init__(self, column: ColumnElement[datetime]) -> None:
        self.column = column


@compiles(MonthKey, "postgresql")
def _month_key_postgresql(element: MonthKey, compiler: Any, **kw: Any) -> str:
    column = compiler.process(element.column, **kw)
    return f"CAST(to_char({column} AT TIME ZONE 'UTC', 'YYYYMM') AS INTEGER)"


@compiles(MonthKey, "sqlite")
def _month_key_sqlite(element: MonthKey, compiler: Any, **kw: Any) -> str:
    return f"CAST(strftime('%Y%m', {compiler.process(element.column, **kw)}) AS INTEGER)"
