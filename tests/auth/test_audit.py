"""An audit row never fails for what a caller typed: NUL (which PostgreSQL's text refuses),
unpaired surrogates and over-long values are stored (found by the HTTP fuzz test: a NUL in a
client id at the token endpoint answered 500)."""

from __future__ import annotations

from sqlalchemy import select

from auth import audit
from auth.principal import Principal, PrincipalKind
from infra.models import audit_log


def test_typed_text_is_made_storable():
    assert audit.storable("a\x00b") == "a\ufffdb"
    assert audit.storable("x\ud800y") == "x\\ud800y"
    assert audit.storable("é" * 300) == "é" * audit.SUBJECT_LENGTH


async def test_a_row_with_a_nul_in_its_subject_and_target_is_written(db):
    caller = Principal(PrincipalKind.ANONYMOUS, "client a\x00b")
    async with db.transaction() as conn:
        await audit.insert_entry(conn, caller, "token.denied", target="a\x00b\ud800")
    async with db.read() as conn:
        row = (await conn.execute(select(audit_log))).one()

    assert (row.subject, row.target) == ("client a\ufffdb", "a\ufffdb\\ud800")
