"""Small builders for given-steps: a member with points, a partner."""

from __future__ import annotations

import itertools
from datetime import datetime
from decimal import Decimal
from typing import Any

from infra.database import Database
from loyalty import member, purchase
from loyalty.member import IdentityKind, IdentityRef, MemberRef
from loyalty.program import Program
from loyalty.purchase import Channel
from partners.registry import create_partner

_sequence = itertools.count(1)


async def a_member(
    db: Database,
    name: str = "Ada",
    card: str | None = None,
    *,
    referral_code: str | None = None,
    program: Program | None = None,
    now: datetime | None = None,
) -> Any:
    number = next(_sequence)
    links = [IdentityRef(IdentityKind.LOYALTY_CARD, card)] if card else []
    return await member.enroll(
        db, display_name=name, idempotency_key=f"enroll-{number}", identities_to_link=links,
        referral_code=referral_code, program=program, now=now,
    )  # fmt: skip


async def a_purchase(
    db: Database,
    program: Program,
    member_id: int,
    amount: str,
    *,
    at: datetime | None = None,
) -> Any:
    """An online purchase recorded at `at` (now by default); returns the purchase row."""
    row, _ = await purchase.record_purchase(
        db, program, member_ref=MemberRef(member_id=member_id), channel=Channel.ONLINE,
        source="web-shop", external_order_id=f"order-{next(_sequence)}", amount=Decimal(amount),
        purchased_at=at, now=at,
    )  # fmt: skip
    return row


async def a_member_with_points(db: Database, points: int, program: Program | None = None) -> Any:
    """A member whose balance is `points`, earned by one online purchase."""
    buyer = await a_member(db)
    await purchase.record_purchase(
        db,
        program or Program(),
        member_ref=MemberRef(member_id=buyer.id),
        channel=Channel.ONLINE,
        source="web-shop",
        external_order_id=f"order-{next(_sequence)}",
        amount=Decimal(points),
    )
    return buyer


async def a_partner(db: Database, code: str = "acme-coffee") -> Any:
    return await create_partner(db, code=code, name=code.replace("-", " ").title())
