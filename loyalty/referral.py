"""Referrals: every member has a code; a new member who enters one earns its owner a one-off
bonus, and for a while a share of the new member's purchases. A member cannot refer itself, and
referrals never form a cycle.

The share is the referrer's, another member's: a purchase (or a refund) records what it owes
and marks itself pending, and `settle_shares` moves the points in a transaction of its own right
after it (the `referrals` job catches up on any a crash left pending), so a member's purchase
never writes another member's rows (docs/scaling.md)."""

from __future__ import annotations

import logging
import secrets
from collections.abc import Sequence
from datetime import UTC, datetime, timedelta
from decimal import Decimal
from functools import partial
from typing import Any

from sqlalchemy import ColumnElement, Select, exists, select, update
from sqlalchemy.ext.asyncio import AsyncConnection

from infra.database import Database
from infra.models import identities, members, purchases
from infra.reads import PageKey, load_pages, top_n_per_owner
from infra.records import MemberRow
from loyalty import ledger, sealing
from loyalty.errors import InvalidState, NotFound, ValidationFailed
from loyalty.idempotency import retry_on_race
from loyalty.membership import MemberStatus, active_member
from loyalty.program import Program
from loyalty.tier import percent_as_points
from loyalty.visibility import Visibility

log = logging.getLogger("pointgate.referrals")

# No 0/O or 1/I: codes are read aloud and typed from paper.
CODE_ALPHABET = "23456789ABCDEFGHJKLMNPQRSTUVWXYZ"
CODE_LENGTH = 8


def new_code() -> str:
    return "".join(secrets.choice(CODE_ALPHABET) for _ in range(CODE_LENGTH))


def normalize_code(code: str) -> str:
    return code.strip().upper()


async def referrer_by_code(conn: AsyncConnection, code: str) -> MemberRow:
    row = (
        await conn.execute(select(members).where(members.c.referral_code == normalize_code(code)))
    ).first()
    if row is None:
        raise NotFound("no member has this referral code", argument="referralCode")
    if row.status != MemberStatus.ACTIVE:
        raise InvalidState("this referral code is no longer active", argument="referralCode")
    return row


async def check_not_self(
    conn: AsyncConnection, referrer_id: int, links: Sequence[tuple[str, str]]
) -> None:
    """At enrollment: an identity of the new member that belongs to the referrer means the
    referrer is enrolling itself again."""
    for kind, value in links:
        owner = await conn.scalar(
            select(identities.c.member_id).where(
                identities.c.kind == kind, identities.c.value.in_(sealing.lookups(kind, value))
            )
        )
        if owner == referrer_id:
            raise ValidationFailed("a member cannot refer itself", reason="SELF_REFERRAL")


async def _check_no_cycle(conn: AsyncConnection, referee_id: int, referrer_id: int) -> None:
    if referee_id == referrer_id:
        raise ValidationFailed("a member cannot refer itself", reason="SELF_REFERRAL")
    seen = {referrer_id}
    current: int | None = referrer_id
    while current is not None:
        current = await conn.scalar(select(members.c.referred_by).where(members.c.id == current))
        if current == referee_id:
            raise ValidationFailed("referrals cannot form a cycle", reason="REFERRAL_CYCLE")
        if current in seen:  # an older cycle in the data: stop rather than loop
            break
        if current is not None:
            seen.add(current)


async def link_referral(
    conn: AsyncConnection, program: Program, *, referee_id: int, referrer_id: int, now: datetime
) -> None:
    """Link referee to referrer and credit the referrer's bonus, once per referee."""
    await _check_no_cycle(conn, referee_id, referrer_id)
    linked = await conn.execute(
        update(members)
        .where(members.c.id == referee_id, members.c.referred_by.is_(None))
        .values(referred_by=referrer_id, referred_at=now)
        .returning(members.c.id)
    )
    if linked.first() is None:
        raise InvalidState("this member already has a referrer")
    if program.referral_bonus_points:
        await ledger.transfer(
            conn,
            idempotency_key=f"referral:{referee_id}:bonus",
            debit=ledger.ISSUANCE,
            credit=ledger.member_account(referrer_id),
            amount=program.referral_bonus_points,
            reason=ledger.TransferCode.REFERRAL_BONUS,
            reference=f"member:{referee_id}",
            now=now,
        )


async def claim_referral(
    db: Database,
    program: Program,
    *,
    member_id: int,
    code: str,
    visible: Visibility,
    now: datetime | None = None,
) -> MemberRow:
    """A member enrolled recently enters a referral code after the fact. Entering the code of
    its current referrer again answers the same."""
    now = now or datetime.now(UTC)
    async with db.transaction() as conn:
        referee = await active_member(conn, member_id, visible.members)
        referrer = await referrer_by_code(conn, code)
        if referee.referred_by is not None:
            if referee.referred_by == referrer.id:
                return referee
            raise InvalidState("this member already has a referrer")
        if now - referee.enrolled_at > timedelta(days=program.referral_claim_days):
            raise InvalidState(
                f"a referral code is entered within {program.referral_claim_days} days of enrolling"
            )
        await link_referral(conn, program, referee_id=member_id, referrer_id=referrer.id, now=now)
        return (await conn.execute(select(members).where(members.c.id == member_id))).one()


async def settle_shares(
    db: Database, program: Program, purchase_ids: Sequence[int] | None = None,
    *, now: datetime | None = None,
) -> int:  # fmt: skip
    """Bring referrers' accounts up to date with the shares their referees' purchases owe: the
    share credited once, what refunds reversed taken back (down to the program's negative
    balance limit; spent points stay spent). Each purchase in a transaction of its own;
    `purchase_ids` None: every pending one. Returns how many purchases it settled."""
    now = now or datetime.now(UTC)
    if purchase_ids is None:
        async with db.read() as conn:
            purchase_ids = list(await conn.scalars(
                select(purchases.c.id).where(purchases.c.referral_pending).order_by(purchases.c.id)
            ))  # fmt: skip
    settled = 0
    for purchase_id in purchase_ids:
        settled += await retry_on_race(partial(_settle_share, db, program, purchase_id, now))
    return settled


async def settle_after(
    db: Database, program: Program, purchase_ids: Sequence[int], now: datetime
) -> None:
    """`settle_shares` right after the purchases' (refunds') own transaction committed: what
    fails here is left pending for the `referrals` job, and the request that recorded the
    purchase still succeeds."""
    try:
        await settle_shares(db, program, purchase_ids, now=now)
    except Exception:
        log.exception("referral shares of purchases %s left to the referrals job", purchase_ids)


async def _settle_share(db: Database, program: Program, purchase_id: int, now: datetime) -> int:
    async with db.transaction() as conn:
        row = (await conn.execute(
            select(purchases)
            .where(purchases.c.id == purchase_id, purchases.c.referral_pending)
            .with_for_update()
        )).first()  # fmt: skip
        if row is None:
            return 0
        reference = f"purchase:{row.id}"
        if row.referral_points > row.referral_paid:
            await ledger.transfer(
                conn, idempotency_key=f"{reference}:referral", debit=ledger.ISSUANCE,
                credit=ledger.member_account(row.referrer_id),
                amount=row.referral_points - row.referral_paid,
                reason=ledger.TransferCode.REFERRAL_EARN, reference=reference, now=now,
            )  # fmt: skip
        await ledger.take_back(
            conn, member_id=row.referrer_id,
            points=row.referral_points_reversed - row.referral_reclaimed,
            negative_limit=program.negative_balance_limit,
            idempotency_key=f"{reference}:referral:reversed:{row.referral_points_reversed}",
            reason=ledger.TransferCode.REFERRAL_REFUND, credit=ledger.ISSUANCE,
            reference=reference, now=now,
        )  # fmt: skip
        await conn.execute(
            update(purchases)
            .where(purchases.c.member_id == row.member_id, purchases.c.id == row.id)
            .values(referral_paid=row.referral_points,
                    referral_reclaimed=row.referral_points_reversed, referral_pending=False)
        )  # fmt: skip
        return 1


def referral_share(
    program: Program, buyer: Any, amount: Decimal, purchased_at: datetime
) -> tuple[int | None, int]:
    """The referrer and its points for a purchase of the referee: a share of the amount while
    the referral is younger than `referral_earning_days`."""
    if buyer.referred_by is None or buyer.referred_at is None:
        return None, 0
    if (
        not buyer.referred_at
        <= purchased_at
        <= buyer.referred_at + timedelta(days=program.referral_earning_days)
    ):
        return None, 0
    points = percent_as_points(program, amount, program.referral_earning_percent)
    return (buyer.referred_by, points) if points else (None, 0)


# What a referrer learns of the members it referred: their name, when they joined with its code
# and whether they qualified (made a purchase); never their identities, balance, accounts or
# ledger. Which referees a caller sees is `visible.referees` (auth.ownership decides).
REFEREE_COLUMNS = (members.c.id, members.c.display_name, members.c.referred_at, members.c.status)


def referee_qualified() -> ColumnElement[bool]:
    return exists().where(purchases.c.member_id == members.c.id)


async def referral_pages(
    conn: AsyncConnection, keys: Sequence[PageKey], visible: Visibility
) -> list[list[Any]]:
    """Pages of whom members referred, newest first (keys: referrer id, first, after id)."""

    def page_query(owners: list[int], limit: int, after: int | None) -> Select[Any]:
        inner = select(
            members.c.referred_by.label("owner"),
            *REFEREE_COLUMNS,
            referee_qualified().label("qualified"),
        ).where(members.c.referred_by.in_(owners), visible.referees)
        if after is not None:
            inner = inner.where(members.c.id < after)
        return top_n_per_owner(inner, members.c.referred_by, members.c.id, limit)

    return await load_pages(conn, keys, page_query)
