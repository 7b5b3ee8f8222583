"""A console form that changes something writes its audit row in the action's own commit: a
form that acted has its row, a refused one a REFUSED row, and one whose row cannot be written
changed nothing. No handler writes audit rows itself."""

from __future__ import annotations

import re
from pathlib import Path

import pytest
from sqlalchemy import func, select

from auth import audit
from gateway import console
from infra.models import audit_log, partners
from tests.gateway.test_console import a_person, csrf_of, signed_in

ROOT = Path(__file__).parents[2]
# The console, the graph's resolvers and the CLI: each action's row is written in its commit by
# auth.audit (the console's routing, the graph's AuditMutation, the CLI's `audited` blocks).
FRONT_ENDS = [*(ROOT / "gateway" / "console").glob("*.py"), *(ROOT / "resolvers").rglob("*.py"),
              ROOT / "gateway" / "operators.py", ROOT / "gateway" / "cli.py"]  # fmt: skip
WRITES_AUDIT = re.compile(r"audit\.(record|insert_entry)\(")


async def entries(db, action: str) -> list:
    async with db.read() as conn:
        return list(await conn.execute(select(audit_log).where(audit_log.c.action == action)))


async def count_partners(db) -> int:
    async with db.read() as conn:
        return int(await conn.scalar(select(func.count()).select_from(partners)))


async def test_a_form_that_acted_has_its_row_and_a_refused_one_says_so(app, db):
    await a_person(db, "ops@example.com")
    async with signed_in(app, "ops@example.com") as http:
        token = csrf_of(await http.get("/console/partners"))
        made = await http.post("/console/partners", data={
            "code": "acme", "name": "Acme", "csrf": token})  # fmt: skip
        refused = await http.post("/console/partners", data={
            "code": "Bad Code!", "name": "Bad", "csrf": token})  # fmt: skip

    assert made.status_code == 303 and refused.status_code == 422
    rows = await entries(db, "console.create_partner")
    assert [(row.target, row.outcome) for row in rows] == [
        ("/partners code=acme", "OK"), ("/partners code=Bad Code!", "REFUSED")]  # fmt: skip
    assert all(row.subject == rows[0].subject and row.subject for row in rows)


async def test_an_action_whose_audit_row_fails_changes_nothing(app, db, monkeypatch):
    await a_person(db, "ops@example.com")
    before = await count_partners(db)

    async def failing(*args, **kwargs):
        raise RuntimeError("the audit log refused the row")

    async with signed_in(app, "ops@example.com") as http:
        token = csrf_of(await http.get("/console/partners"))
        monkeypatch.setattr(audit, "insert_entry", failing)
        with pytest.raises(RuntimeError, match="audit log refused"):
            await http.post("/console/partners", data={
                "code": "acme", "name": "Acme", "csrf": token})  # fmt: skip

    monkeypatch.undo()
    assert await count_partners(db) == before
    assert await entries(db, "console.create_partner") == []


def test_every_console_form_that_changes_something_names_its_audit_action():
    """A POST either names its audit action, calls an auth.console command that writes its
    own row (invitations, access changes, second factors), or changes nothing (a preview)."""
    own_rows = {"operator_invite", "person_access", "staff_invite", "second_factor_start",
                "second_factor_set"}  # fmt: skip
    changes_nothing = {"campaign_preview"}
    for page in console.ROUTES:
        if "POST" in page.methods:
            handler = getattr(page.handler, "func", page.handler)  # a partial: its function
            exempt = handler.__name__ in own_rows | changes_nothing
            assert (page.audit is not None) != exempt, page.path


def test_no_console_handler_resolver_or_cli_command_writes_an_audit_row_itself():
    writing = [
        f"{path.relative_to(ROOT)}: {line.strip()}"
        for path in FRONT_ENDS
        for line in path.read_text().splitlines()
        if WRITES_AUDIT.search(line)
    ]

    assert writing == []
