"""Terms that take effect at a time and may end (a partner's rate cards and exchange terms): which
are in force at a moment, written once as SQL for every reader (purchases at a partner, quotes,
the console's partner page)."""

from __future__ import annotations

from datetime import datetime
from typing import Any

from sqlalchemy import ColumnElement, and_, or_


def in_force(table: Any, at: datetime) -> ColumnElement[bool]:
    """Started by `at` and not ended."""
    return and_(table.c.valid_from <= at, or_(table.c.valid_to.is_(None), table.c.valid_to > at))


def latest_first(table: Any) -> tuple[Any, Any]:
    """Of several in force, the one that applies comes first: the latest started (then added)."""
    return table.c.valid_from.desc(), table.c.id.desc()
