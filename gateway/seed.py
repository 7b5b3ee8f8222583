"""Bulk demo and benchmark data that keeps every ledger invariant: each purchase has its
earning transfer, written through the ledger's bulk loader (loyalty.bulk)."""

from __future__ import annotations

import random
from collections import defaultdict
from collections.abc import Sequence
from dataclasses import dataclass
from datetime import UTC, datetime, timedelta
from decimal import Decimal
from typing import Any

from sqlalchemy import bindparam, insert, select, text, update
from sqlalchemy.ext.asyncio import AsyncConnection

from auth import console
from auth.principal import Principal, PrincipalKind, Scope
from infra.database import Database
from infra.models import (
    accounts,
    coupon_templates,
    identities,
    member_keys,
    members,
    purchases,
    tier_changes,
)
from infra.progress import Progress, quiet
from loyalty import bulk, growth, keys, ledger, referral, sealing, tier
from loyalty.earning import base_points
from loyalty.ledger import TransferCode
from loyalty.program import Program
from loyalty.promotions import campaign, coupon
from loyalty.promotions.campaign import CampaignTerms
from loyalty.promotions.coupon import CouponKind, TemplateTerms
from loyalty.purchase import Channel, earning_account
from loyalty.visibility import EVERYTHING
from partners.rate_card import RateCardTerms, add_rate_card, rate_cards_of
from partners.registry import Direction, Terms, create_partner, set_exchange_terms, terms_of

DEMO_PARTNERS = (("acme-coffee", "Acme Coffee"), ("skyway-air", "Skyway Air"))
FIRST_NAMES = ("Ada", "Grace", "Alan", "Edsger", "Barbara", "Donald", "Frances", "Ken", "Radia")
LAST_NAMES = ("Lovelace", "Hopper", "Turing", "Dijkstra", "Liskov", "Knuth", "Allen", "Perlman")


@dataclass(frozen=True, slots=True)
class SeedReport:
    members: int
    purchases: int
    first_member_id: int


async def _insert(
    conn: AsyncConnection, table: Any, rows: Sequence[dict[str, Any]], progress: Progress = quiet
) -> None:
    for chunk in bulk.chunks(rows):
        await conn.execute(insert(table), chunk)
        progress(len(chunk))


async def seed(
    db: Database,
    program: Program,
    *,
    member_count: int,
    purchase_count: int,
    random_seed: int = 42,
    now: datetime | None = None,
    progress: Progress = quiet,
) -> SeedReport:
    """Add `member_count` members (with card, email and phone identities) and `purchase_count`
    purchases spread over them and the last year, each with its earning transfer."""
    now = now or datetime.now(UTC)
    rng = random.Random(random_seed)
    # progress: members written, then purchases written, then their ledger credits posted
    progress(0, total=member_count + 2 * purchase_count)
    partner_ids = [
        (await create_partner(db, code=code, name=name)).id for code, name in DEMO_PARTNERS
    ]
    await _demo_partner_terms(db, partner_ids, now)
    async with db.transaction() as conn:
        first_member = await bulk.next_id(conn, members)
        member_ids = list(range(first_member, first_member + member_count))
        codes: set[str] = set()
        while len(codes) < member_count:
            codes.add(referral.new_code())
        member_rows, identity_rows = _members(rng, member_ids, sorted(codes), partner_ids[-1], now)
        await _insert(conn, members, member_rows)
        await bulk.sync_sequence(conn, members)
        accounts_rows = [{"id": ledger.member_account(m), "member_id": m} for m in member_ids]
        await _insert(conn, accounts, accounts_rows)
        await _insert(conn, identities, identity_rows)
        await _insert(conn, member_keys, [
            *({"key": keys.referral(row["referral_code"]), "member_id": row["id"]}
              for row in member_rows),
            *({"key": keys.identity(row["kind"], row["value"]), "member_id": row["member_id"]}
              for row in identity_rows),
        ])  # fmt: skip
        progress(member_count)

        gained = await _purchases(conn, program, rng, member_ids, partner_ids, purchase_count, now,
                                  progress)  # fmt: skip
        await growth.rebuild(conn)
        await _set_tiers(conn, program, gained, now)
    if db.dialect == "postgresql":
        # Fresh planner statistics: right after a bulk load the planner would guess blindly.
        async with db.read() as conn:
            await conn.execute(text("ANALYZE"))
    return SeedReport(members=member_count, purchases=purchase_count, first_member_id=first_member)


def _members(
    rng: random.Random, member_ids: list[int], codes: list[str], airline: int, now: datetime
) -> tuple[list[dict[str, Any]], list[dict[str, Any]]]:
    """Member rows, and their identities: a card and an email each, a phone for every other
    member, and an account in the airline's program (for exchanges) for every third."""
    member_rows, identity_rows = [], []
    linked = now - timedelta(days=1)
    for member_id, code in zip(member_ids, codes, strict=True):
        name = f"{rng.choice(FIRST_NAMES)} {rng.choice(LAST_NAMES)}"
        member_rows.append(
            {"id": member_id, "display_name": name, "referral_code": code,
             "enrolled_at": now - timedelta(days=rng.randint(0, 900))}
        )  # fmt: skip
        owned: list[tuple[str, str, int | None]] = [("LOYALTY_CARD", f"CARD-{member_id:08d}", None),
                 ("EMAIL", f"member{member_id}@example.com", None)]  # fmt: skip
        if member_id % 2 == 0:
            owned.append(("PHONE", f"+1555{member_id:07d}", None))
        if member_id % 3 == 1:
            owned.append(("PARTNER_ACCOUNT", f"SKY-{member_id:08d}", airline))
        identity_rows += [
            {"member_id": member_id, "kind": kind, **sealing.stored(kind, value),
             "partner_id": partner, "linked_at": linked}
            for kind, value, partner in owned
        ]  # fmt: skip
    return member_rows, identity_rows


async def _purchases(
    conn: AsyncConnection,
    program: Program,
    rng: random.Random,
    member_ids: list[int],
    partner_ids: list[int],
    count: int,
    now: datetime,
    progress: Progress,
) -> dict[int, int]:
    """`count` purchases over the last year, each with its earning credit through the ledger's
    bulk loader; returns the growth value each member gained."""
    first_purchase = await bulk.next_id(conn, purchases)
    purchase_rows, credits, claims = [], [], []
    growth: dict[int, int] = defaultdict(int)
    for purchase_id in range(first_purchase, first_purchase + (count if member_ids else 0)):
        member_id = rng.choice(member_ids)
        channel = rng.choice((Channel.ONLINE, Channel.OFFLINE, Channel.PARTNER))
        partner_id = rng.choice(partner_ids) if channel is Channel.PARTNER else None
        amount = Decimal(rng.randint(500, 30_000)).scaleb(-2)
        points = base_points(amount, program)
        purchase_growth = tier.growth_for_amount(program, amount)
        growth[member_id] += purchase_growth
        purchased_at = now - timedelta(minutes=rng.randint(1, 365 * 24 * 60))
        if channel is Channel.OFFLINE:
            source = f"store-{rng.randint(1, 40):03d}"
        else:
            source = "web-shop" if partner_id is None else f"partner-{partner_id}"
        purchase_rows.append(
            {
                "id": purchase_id, "member_id": member_id, "channel": channel,
                "source": source, "external_order_id": f"seed-{purchase_id}",
                "amount": amount, "currency": program.currency, "points_earned": points,
                "tier": tier.Tier.SILVER, "growth_value": purchase_growth,
                "partner_id": partner_id, "purchased_at": purchased_at,
                "recorded_at": purchased_at, "request_hash": "seed",
            }
        )  # fmt: skip
        claims.append(
            {"key": keys.order("", source, f"seed-{purchase_id}"), "member_id": member_id}
        )
        credits.append(
            bulk.Credit(
                idempotency_key=f"purchase:{purchase_id}:earn", debit=earning_account(partner_id),
                member_id=member_id, amount=points, code=TransferCode.EARN,
                reference=f"purchase:{purchase_id}", partner_id=partner_id, at=purchased_at,
            )
        )  # fmt: skip
    await _insert(conn, purchases, purchase_rows, progress)
    await _insert(conn, member_keys, claims)
    await bulk.sync_sequence(conn, purchases)
    await bulk.credit_members(conn, [c for c in credits if c.amount], progress)
    progress(sum(1 for c in credits if not c.amount))
    return growth


async def _set_tiers(
    conn: AsyncConnection, program: Program, growth: dict[int, int], now: datetime
) -> None:
    """Seeded purchases all fall in the growth window: members whose growth value reaches a
    threshold hold that tier, as an upgrade would have given them."""
    changes = [
        {"member_id": member_id, "from_tier": tier.Tier.SILVER, "to_tier": reached,
         "reason": tier.TierChangeReason.UPGRADE, "growth_value": value, "changed_at": now}
        for member_id, value in growth.items()
        if (reached := tier.tier_for_growth(program, value)) is not tier.Tier.SILVER
    ]  # fmt: skip
    if changes:
        await conn.execute(
            update(members)
            .where(members.c.id == bindparam("member"))
            .values(tier=bindparam("new_tier")),
            [{"member": c["member_id"], "new_tier": c["to_tier"]} for c in changes],
        )
        await _insert(conn, tier_changes, changes)


async def _demo_partner_terms(db: Database, partner_ids: list[int], now: datetime) -> None:
    """Rate cards for the demo partners, and the airline trades miles both ways at 2.5 points a
    mile (once per database)."""
    since = now - timedelta(days=800)
    for partner_id in partner_ids:
        async with db.read() as conn:
            carded = await rate_cards_of(conn, [partner_id])
        if not carded:
            await add_rate_card(db, partner_id=partner_id, terms=RateCardTerms(
                platform_fee_monthly=Decimal("99"), api_transaction_fee=Decimal("0.002")),
                valid_from=since)  # fmt: skip
    partner_id = partner_ids[-1]
    async with db.read() as conn:
        offered = await terms_of(conn, [partner_id])
    if offered:
        return
    terms = Terms(rate=Decimal("2.5"), min_points=100, max_points=50_000, step_points=50,
                  daily_cap_points=100_000, fee_points=10)  # fmt: skip
    for direction in Direction:
        await set_exchange_terms(db, partner_id=partner_id, direction=direction, terms=terms,
                                 valid_from=since - timedelta(days=1))  # fmt: skip


async def has_members(db: Database) -> bool:
    async with db.read() as conn:
        return await conn.scalar(select(members.c.id).limit(1)) is not None


# The program's own offers (their codes are the program's defaults) and two campaigns: the
# member day on the 18th with double points, and a next-purchase coupon after every purchase.
DEMO_TEMPLATES = (
    TemplateTerms(code="first-order", name="First order: 10 off 50", kind=CouponKind.AMOUNT_OFF,
                  amount_off=Decimal("10.00"), threshold=Decimal("50.00"), valid_hours=30 * 24),
    TemplateTerms(code="next-purchase", name="Next purchase: 5 off 50 within 7 days",
                  kind=CouponKind.AMOUNT_OFF, amount_off=Decimal("5.00"),
                  threshold=Decimal("50.00"), valid_hours=7 * 24),
    TemplateTerms(code="spend-200-save-20", name="Spend 200, save 20", kind=CouponKind.AMOUNT_OFF,
                  amount_off=Decimal("20.00"), threshold=Decimal("200.00"), valid_hours=90 * 24),
    TemplateTerms(code="win-back", name="We miss you: 15 off 100", kind=CouponKind.AMOUNT_OFF,
                  amount_off=Decimal("15.00"), threshold=Decimal("100.00"), valid_hours=14 * 24),
    TemplateTerms(code="retention", name="For you: 10 % off, up to 30",
                  kind=CouponKind.PERCENT_OFF, percent_off=Decimal("10"),
                  max_discount=Decimal("30.00"), valid_hours=14 * 24),
)  # fmt: skip


async def demo_promotions(db: Database, program: Program, now: datetime) -> None:
    """Once per database, for the demo (not `seed`, whose data benchmarks measure): the offer
    templates and the two demo campaigns."""
    async with db.read() as conn:
        known = set(await conn.scalars(select(coupon_templates.c.code)))
    templates = {}
    year = timedelta(days=366)  # the demo's program has run for a year (gateway.demo_year)
    for terms in DEMO_TEMPLATES:
        if terms.code not in known:
            templates[terms.code] = await coupon.create_template(db, program, terms,
                                                                 now=now - year)  # fmt: skip
    if "next-purchase" not in templates:
        return
    await campaign.create_campaign(db, CampaignTerms(
        code="member-day", name="Member day: double points on the 18th", monthly_day=18,
        starts_at=now - year, ends_at=now + year, multiplier=Decimal(2),
        points_budget=10_000_000), now=now, visible=EVERYTHING)  # fmt: skip
    await campaign.create_campaign(db, CampaignTerms(
        code="next-purchase", name="A next-purchase coupon with every purchase",
        starts_at=now - year, ends_at=now + year,
        coupon_template_id=templates["next-purchase"].id), now=now,
        visible=EVERYTHING)  # fmt: skip


# The demo's console logins (development only: `pointgate demo` prints them).
DEMO_OPERATOR = ("operator@pointgate.example", "demo-operator-password")
DEMO_PARTNER_STAFF = ("finance@acme-coffee.example", "demo-partner-password")


async def demo_console_people(db: Database) -> None:
    """Once per database: an operator and a clerk of the first demo partner."""
    seeder = Principal(PrincipalKind.OPERATOR, "demo", frozenset({Scope.ADMIN.value}))
    code, name = DEMO_PARTNERS[0]
    partner = await create_partner(db, code=code, name=name)  # the existing one
    await console.ensure_person(db, seeder, email=DEMO_OPERATOR[0], password=DEMO_OPERATOR[1],
                                role=console.Role.OPERATOR)  # fmt: skip
    await console.ensure_person(db, seeder, email=DEMO_PARTNER_STAFF[0],
                                password=DEMO_PARTNER_STAFF[1],
                                role=console.Role.PARTNER_STAFF, partner_id=partner.id)  # fmt: skip
