"""A year of the demo program, lived through its commands on top of gateway.seed's bulk
purchases (which no campaign, tier or coupon saw): month by month, the lifecycle job runs on
the 1st as the scheduler would have run it; some members who got a win-back or retention
coupon come back while it is valid; a few big spenders climb to DIAMOND (and reach its annual
target), more customers to GOLD; every purchase gets its next-purchase coupon and some are
followed by another within the week; a few people enrol, some referred, most buying in their
first month. Every chart of the console's KPI dashboard then has something to say. The same
every time (a seeded random), and for the demo only: benchmarks measure `seed` alone."""

from __future__ import annotations

import itertools
import random
from dataclasses import dataclass
from datetime import UTC, datetime, timedelta
from decimal import Decimal

from sqlalchemy import select

from infra.database import Database
from infra.models import coupon_templates, coupons, members
from infra.progress import Progress, quiet
from loyalty import member, purchase
from loyalty.member import MemberRef
from loyalty.program import Program
from loyalty.promotions.offer import run_lifecycle_offers
from loyalty.purchase import Channel
from loyalty.visibility import EVERYTHING

MONTHS = 12
NAMES = ("Ana", "Ben", "Chloé", "Dev", "Emeka", "Fatima", "Goran", "Hana", "Ivo", "Jun")


@dataclass(frozen=True, slots=True)
class Visit:
    """One purchase of the year: who, when, how much, and whether it spends a coupon the member
    holds (a returning visit: the coupon brought it)."""

    member_id: int
    at: datetime
    amount: Decimal
    with_coupon: bool = False


def month_starts(now: datetime, count: int = MONTHS) -> list[datetime]:
    """The first instants (UTC) of the last `count` months, the current one last."""
    start = now.astimezone(UTC).replace(day=1, hour=0, minute=0, second=0, microsecond=0)
    starts = [start]
    while len(starts) < count:
        starts.insert(0, (starts[0] - timedelta(days=1)).replace(day=1))
    return starts


async def live_a_year(
    db: Database, program: Program, now: datetime, progress: Progress = quiet
) -> int:
    """Live the last 12 months (see the module); returns the purchases recorded."""
    rng = random.Random(2026)
    async with db.read() as conn:
        rows = list(await conn.execute(select(members.c.id, members.c.referral_code)
                                       .order_by(members.c.id)))  # fmt: skip
    ids = [row.id for row in rows]
    codes = [row.referral_code for row in rows]
    # By design, not by chance: a tenth spend like DIAMOND members, a quarter like GOLD ones.
    diamond, gold = ids[: len(ids) // 10], ids[len(ids) // 10 : len(ids) * 7 // 20]
    starts = [*month_starts(now), now]
    progress(0, total=MONTHS)
    recorded = 0
    for start, end in itertools.pairwise(starts):
        await run_lifecycle_offers(db, program, at=start)
        visits = [Visit(m, _within(rng, start, end), _amount(rng, 3_500, 4_500)) for m in diamond]
        visits += [Visit(m, _within(rng, start, end), _amount(rng, 250, 600))
                   for m in gold if rng.random() < 0.8]  # fmt: skip
        back_by = min(end, start + timedelta(days=14))  # while the coupon is valid
        visits += [Visit(m, _within(rng, start, back_by), _amount(rng, 100, 250),
                         rng.random() < 0.7)
                   for m in await _offered(db, start) if rng.random() < 0.35]  # fmt: skip
        for newcomer, enrolled_at in await _enrol(db, program, rng, codes, start, end):
            if rng.random() < 0.85:  # most buy in their first weeks (activation)
                first = _within(rng, enrolled_at, min(end, enrolled_at + timedelta(days=20)))
                visits.append(Visit(newcomer, first, _amount(rng, 60, 200)))
        for visit in list(visits):  # some come back within the week (the coupon says so)
            again = visit.at + timedelta(days=rng.randint(1, 6), hours=rng.randint(0, 12))
            if rng.random() < 0.3 and again < end:
                visits.append(Visit(visit.member_id, again, _amount(rng, 60, 150),
                                    rng.random() < 0.5))  # fmt: skip
        for visit in sorted(visits, key=lambda v: v.at):
            recorded += 1
            await purchase.record_purchase(
                db, program, member_ref=MemberRef(member_id=visit.member_id),
                channel=Channel.ONLINE, source="web-shop", external_order_id=f"year-{recorded}",
                amount=visit.amount, purchased_at=visit.at, visible=EVERYTHING, now=visit.at,
                coupon_codes=await _coupon_for(db, visit) if visit.with_coupon else (),
            )  # fmt: skip
        progress(1)
    return recorded


def _within(rng: random.Random, start: datetime, end: datetime) -> datetime:
    return start + timedelta(seconds=rng.randint(0, max(0, int((end - start).total_seconds()))))


def _amount(rng: random.Random, low: int, high: int) -> Decimal:
    return Decimal(rng.randint(low * 100, high * 100)).scaleb(-2)


async def _offered(db: Database, at: datetime) -> list[int]:
    """The members the lifecycle job gave a win-back or retention coupon at `at`."""
    async with db.read() as conn:
        return list(await conn.scalars(
            select(coupons.c.member_id)
            .join(coupon_templates, coupon_templates.c.id == coupons.c.template_id)
            .where(coupons.c.issued_at == at,
                   coupon_templates.c.code.in_(["win-back", "retention"]))
            .order_by(coupons.c.member_id)
        ))  # fmt: skip


async def _coupon_for(db: Database, visit: Visit) -> list[str]:
    """The member's coupon that ends first among those it may use on the visit's purchase."""
    async with db.read() as conn:
        code = await conn.scalar(
            select(coupons.c.code)
            .join(coupon_templates, coupon_templates.c.id == coupons.c.template_id)
            .where(coupons.c.member_id == visit.member_id, coupons.c.state == "ISSUED",
                   coupons.c.valid_from <= visit.at, coupons.c.valid_until > visit.at,
                   coupon_templates.c.threshold <= visit.amount,
                   coupon_templates.c.kind != "FREE_ITEM")
            .order_by(coupons.c.valid_until, coupons.c.id).limit(1)
        )  # fmt: skip
    return [] if code is None else [code]


async def _enrol(db: Database, program: Program, rng: random.Random, codes: list[str],
                 start: datetime, end: datetime) -> list[tuple[int, datetime]]:  # fmt: skip
    """Four people enrol in the month, each with a chance of being referred by a member; their
    ids and when they enrolled."""
    enrolled = []
    for n in range(4):
        at = _within(rng, start, end)
        row = await member.enroll(
            db, display_name=f"{rng.choice(NAMES)} {start:%b} {n + 1}",
            idempotency_key=f"year-{start:%Y%m}-{n}",
            referral_code=rng.choice(codes) if rng.random() < 0.3 else None, program=program,
            now=at,
        )  # fmt: skip
        enrolled.append((row.id, at))
    return enrolled
