"""A request that lost a race, or a deadlock, is run again: the retry answers it."""

from __future__ import annotations

import pytest
from sqlalchemy.exc import DBAPIError

from loyalty.idempotency import retry_on_race


class _PostgresError(Exception):
    def __init__(self, sqlstate: str) -> None:
        super().__init__(sqlstate)
        self.sqlstate = sqlstate


def _failing(states: list[str]):
    calls: list[int] = []

    async def operation() -> str:
        calls.append(1)
        if states:
            state = states.pop(0)
            raise DBAPIError("UPDATE accounts", {}, _PostgresError(state))
        return "done"

    return operation, calls


async def test_a_deadlocked_operation_runs_again_and_other_database_errors_do_not():
    deadlocked, calls = _failing(["40P01", "40001"])
    assert await retry_on_race(deadlocked) == "done"
    assert len(calls) == 3

    always, _ = _failing(["40P01", "40P01", "40P01"])
    with pytest.raises(DBAPIError):
        await retry_on_race(always)

    broken, calls = _failing(["42P01"])  # undefined table: not the request's to retry
    with pytest.raises(DBAPIError):
        await retry_on_race(broken)
    assert len(calls) == 1
