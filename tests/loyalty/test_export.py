"""A member's copy of its data (docs/privacy.md, "Export"): it holds every row of the member in
every table the model says holds members' rows, and only the member and operators get it."""

from __future__ import annotations

import json

from sqlalchemy import func, select

from auth import clients
from infra.models import audit_log, members, metadata
from loyalty import consent, export, member
from loyalty.consent import ConsentPurpose
from loyalty.member import IdentityKind
from loyalty.visibility import EVERYTHING
from tests.auth.test_authorization_matrix import given_foreign_objects
from tests.conftest import bearer, http_client
from tests.factories import a_member


def test_every_table_holding_members_rows_is_exported_or_says_why_not():
    """From the model's metadata: a new table with members' rows is exported, or named in
    NOT_EXPORTED with its reason; nothing else refers to a member."""
    exported = {table.name for table in export.member_tables()}
    for table in metadata.sorted_tables:
        refers = "member_id" in table.c or any(
            fk.column.table.name == "members" for c in table.c for fk in c.foreign_keys
        )
        if refers and table.name != "members":  # the member's record: "member", "referees"
            assert table.name in exported or export.NOT_EXPORTED.get(table.name), table.name
    assert all(reason for reason in export.NOT_EXPORTED.values())


async def test_the_export_holds_every_row_the_program_has_of_the_member(db):
    ids = await given_foreign_objects(db)  # a member with a purchase, a redemption, an
    member_id = int(ids["member"])  # exchange and a quote at a partner, a coupon
    await consent.grant(db, member_id=member_id, partner_id=int(ids["partner"]),
                        purpose=ConsentPurpose.CONTACT, visible=EVERYTHING)  # fmt: skip
    await member.link_identity(db, member_id=member_id, kind=IdentityKind.EMAIL,
                               value="theirs@example.com", visible=EVERYTHING)  # fmt: skip
    async with db.read() as conn:
        code = await conn.scalar(select(members.c.referral_code).where(members.c.id == member_id))
    await a_member(db, "Referred", referral_code=code)

    document = await export.export_member(db, member_id)

    async with db.read() as conn:
        for table in export.member_tables():
            held = await conn.scalar(select(func.count()).select_from(table)
                                     .where(table.c.member_id == member_id))  # fmt: skip
            assert len(document["tables"][table.name]) == held, table.name
    filled = {name for name, rows in document["tables"].items() if rows}
    assert {"accounts", "identities", "data_consents", "purchases", "transfers", "point_lots",
            "redemptions", "quotes", "exchanges", "exchange_events", "coupons",
            "lot_draws"} <= filled  # fmt: skip
    assert document["member"]["id"] == member_id and "request_hash" not in document["member"]
    json.dumps(document)  # exact amounts as strings, instants as ISO 8601: plain JSON
    # whom the member referred: a summary, never the referee's own record
    assert [sorted(r) for r in document["referees"]] == [["display_name", "referred_at"]]
    assert document["referees"][0]["display_name"] == "Referred"


async def test_only_the_member_and_operators_get_it_and_each_export_is_audited(app, db):
    ada, bo = await a_member(db), await a_member(db, "Bo")
    made = await clients.create_client(db, name="p", scopes=["members:read"])
    as_ada = http_client(app, await bearer(app, f"member:{ada.id}"))
    operator = http_client(app, await bearer(app, "operator:ops", "admin"))
    as_partner = http_client(app, await bearer(app, made.client_id, "members:read",
                                               client_id=made.client_id))  # fmt: skip

    own = await as_ada.get("/me/export.json")
    others = await as_ada.get(f"/members/{bo.id}/export.json")
    on_behalf = await operator.get(f"/members/{ada.id}/export.json")
    by_partner = await as_partner.get(f"/members/{ada.id}/export.json")
    anonymous = await http_client(app).get("/me/export.json")
    missing = await operator.get("/members/987654/export.json")

    assert own.status_code == 200 and own.json()["member"]["display_name"] == "Ada"
    assert "attachment" in own.headers["content-disposition"]
    assert on_behalf.json()["tables"] == own.json()["tables"]
    assert (others.status_code, by_partner.status_code, missing.status_code) == (404, 404, 404)
    assert anonymous.status_code == 401
    async with db.read() as conn:
        rows = list(await conn.execute(select(audit_log.c.target, audit_log.c.outcome)
                                       .where(audit_log.c.action == "export.member")
                                       .order_by(audit_log.c.id)))  # fmt: skip
    assert [(r.target, r.outcome) for r in rows] == [
        (f"member:{ada.id}", "OK"), (f"member:{ada.id}", "OK"),
        ("member:987654", "NOT_FOUND"),
    ]  # fmt: skip
