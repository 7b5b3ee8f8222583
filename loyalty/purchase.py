"""Purchases from every channel, each earning points once, and refunds that reverse them."""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass, replace
from datetime import UTC, datetime, timedelta
from decimal import Decimal
from enum import StrEnum
from operator import attrgetter
from typing import Any

from sqlalchemy import Select, func, literal, select, update
from sqlalchemy.ext.asyncio import AsyncConnection

from infra.database import Database
from infra.models import partners, purchases, rate_cards
from infra.partner_records import PartnerRow
from infra.reads import PageKey, keyed, load_pages, top_n_per_owner
from infra.records import PurchaseRow
from loyalty import dated, keys, ledger, member, referral, tier
from loyalty.earning import base_points, check_amount
from loyalty.errors import InvalidState, NotFound, PartnerNotContracted, ValidationFailed
from loyalty.idempotency import earlier, request_hash, retry_on_race
from loyalty.ledger import TransferCode
from loyalty.program import Program
from loyalty.promotions import benefit, campaign, coupon
from loyalty.visibility import Visibility


class Channel(StrEnum):
    ONLINE = "ONLINE"
    OFFLINE = "OFFLINE"
    PARTNER = "PARTNER"


async def check_partner_active(
    conn: AsyncConnection, partner_id: int, *, transacting_at: datetime | None = None
) -> PartnerRow:
    """The partner, if it is ACTIVE (NOT_FOUND, INVALID_STATE otherwise). With `transacting_at`,
    the gate of every purchase, redemption and exchange at a partner: a rate card must be in
    force then (PARTNER_NOT_CONTRACTED), or nothing it does could be settled."""
    row = (await conn.execute(partner_gate(partner_id, transacting_at))).first()
    return check_gate(row, partner_id, transacting_at)


def partner_gate(partner_id: Any, transacting_at: datetime | None) -> Select[Any]:
    """The partner's row and whether a rate card is in force at `transacting_at` (`contracted`);
    a caller may add the other columns it reads in the same statement."""
    contracted = (
        select(rate_cards.c.id)
        .where(rate_cards.c.partner_id == partners.c.id, dated.in_force(rate_cards, transacting_at))
        .exists()
        if transacting_at is not None
        else literal(True)
    )
    return select(*partners.c, contracted.label("contracted")).where(partners.c.id == partner_id)


def check_gate(row: Any, partner_id: int, transacting_at: datetime | None) -> PartnerRow:
    """`check_partner_active`'s verdict on a `partner_gate` row."""
    if row is None:
        raise NotFound(f"partner {partner_id} does not exist")
    if row.status != "ACTIVE":
        raise InvalidState(f"partner {partner_id} is {row.status}")
    if not row.contracted:
        raise PartnerNotContracted(
            f"partner {partner_id} has no rate card in force on {transacting_at:%Y-%m-%d %H:%M} "
            "UTC: it cannot transact until an operator adds one",
            partnerId=str(partner_id),
        )
    return row  # type: ignore[no-any-return]


def earning_account(partner_id: int | None) -> ledger.AccountId:
    """Where earned points come from: the partner pays for points earned at the partner."""
    return ledger.ISSUANCE if partner_id is None else ledger.partner_clearing_account(partner_id)


def check_channel_partner(channel: Channel, partner_id: int | None) -> None:
    """A partner is named exactly when the channel is PARTNER."""
    if channel is Channel.PARTNER and partner_id is None:
        raise ValidationFailed("a PARTNER channel operation names its partner")
    if channel is not Channel.PARTNER and partner_id is not None:
        raise ValidationFailed("only a PARTNER channel operation names a partner")


async def record_purchase(
    db: Database,
    program: Program,
    *,
    member_ref: member.MemberRef,
    channel: Channel,
    source: str,
    external_order_id: str,
    amount: Decimal,
    currency: str | None = None,
    partner_id: int | None = None,
    purchased_at: datetime | None = None,
    namespace: str = "",
    coupon_codes: Sequence[str] = (),
    campaigns: campaign.CampaignBook = campaign.READ_THROUGH,
    visible: Visibility,
    now: datetime | None = None,
) -> tuple[PurchaseRow, bool]:
    """Record a purchase and credit what it earns, once per (source, external order id) in the
    caller's `namespace` (a partner's order ids are its own). `amount` is the basket before
    coupons; the member's `coupon_codes` take their discounts off it (loyalty.promotions.coupon),
    and the purchase is recorded, earns and is refunded on the amount paid. Campaigns in force
    for it (`campaigns`, kept in memory by the app) add their points (loyalty.promotions.campaign).

    Returns the purchase and whether this call was a replay. The member earns base points plus
    the bonus of the tier in force when the purchase is recorded; the purchase's growth value may
    upgrade the tier at once (for later purchases). Points come from the partner's clearing
    account for partner purchases (the partner pays for them) and from program issuance
    otherwise. A referee's purchase also earns its referrer a share, from program issuance,
    credited after the purchase's transaction (which writes the buyer's rows only)."""
    now = now or datetime.now(UTC)
    asked = _Request(
        member_ref, channel, source, external_order_id, amount, currency, partner_id,
        purchased_at, namespace, tuple(coupon.normalized_code(c) for c in coupon_codes),
    )  # fmt: skip
    request = _checked(program, asked, now)
    row, replay = await retry_on_race(
        lambda: _record(db, program, request, campaigns, visible, now)
    )
    if row.referral_pending:
        await referral.settle_after(db, program, [row.id], now)
    return row, replay


@dataclass(frozen=True, slots=True)
class _Request:
    """A purchase as asked for; once checked, normalised and with the fingerprint its replays
    must match."""

    member_ref: member.MemberRef
    channel: Channel
    source: str
    external_order_id: str
    amount: Decimal
    currency: str | None
    partner_id: int | None
    purchased_at: datetime | None
    namespace: str
    coupon_codes: tuple[str, ...] = ()
    fingerprint: str = ""


# How far ahead of this clock a till's clock may be.
CLOCK_SKEW = timedelta(minutes=5)


def _checked(program: Program, asked: _Request, now: datetime) -> _Request:
    check_amount(asked.amount, program)
    currency = (asked.currency or program.currency).upper()
    if currency != program.currency:
        raise ValidationFailed(f"purchases are recorded in {program.currency}")
    source, order = asked.source.strip(), asked.external_order_id.strip()
    if not source or len(source) > 100 or not order or len(order) > 200:
        raise ValidationFailed("source (1-100) and external order id (1-200) are required")
    check_channel_partner(asked.channel, asked.partner_id)
    if asked.purchased_at is not None:
        if asked.purchased_at > now + CLOCK_SKEW:
            raise ValidationFailed("a purchase cannot be in the future", argument="purchasedAt")
        if asked.purchased_at < now - timedelta(days=program.purchase_backdating_days):
            raise ValidationFailed(
                f"a purchase is recorded within {program.purchase_backdating_days} days",
                argument="purchasedAt",
            )
    fingerprint = request_hash(
        member=asked.member_ref.fingerprint(), channel=asked.channel, amount=asked.amount,
        currency=currency, partner_id=asked.partner_id,
        purchased_at=asked.purchased_at if asked.purchased_at != now else None,
        coupons=sorted(set(asked.coupon_codes)) or None,
    )  # fmt: skip
    return replace(
        asked, currency=currency, source=source, external_order_id=order,
        purchased_at=asked.purchased_at or now, fingerprint=fingerprint,
    )  # fmt: skip


async def _record(
    db: Database,
    program: Program,
    request: _Request,
    book: campaign.CampaignBook,
    visible: Visibility,
    now: datetime,
) -> tuple[Any, bool]:
    async with db.transaction() as conn:
        buyer = await member.resolve(conn, request.member_ref, visible, presented=True)
        if request.partner_id is not None:
            await check_partner_active(conn, request.partner_id, transacting_at=now)
        applied: list[coupon.Applied] = []
        if request.coupon_codes:
            # A replay finds its coupons redeemed by itself: answer it before applying them.
            replay = await _earlier(conn, request)
            if replay is not None:
                return replay, True
            applied = await coupon.apply_coupons(
                conn, program, list(request.coupon_codes), member_id=buyer.id,
                channel=request.channel, partner_id=request.partner_id, gross=request.amount,
                at=now,
            )  # fmt: skip
        paid = request.amount - sum((a.discount for a in applied), Decimal(0))
        tier_in_force = tier.Tier(buyer.tier)
        base = base_points(paid, program)
        planned = campaign.plan(await campaign.choose(
            conn, program, await book.current(conn, now), member_id=buyer.id, tier=buyer.tier,
            channel=request.channel, partner_id=request.partner_id,
            at=request.purchased_at or now,
        ), base)  # fmt: skip
        extra = sum(item.points for item in planned)
        bonus = tier.bonus_points(program, tier_in_force, paid)
        referrer_id, referral_points = referral.referral_share(
            program, buyer, paid, request.purchased_at or now
        )
        row = await keys.insert_claimed(conn, purchases, {
            "member_id": buyer.id, "amount": paid, "gross_amount": request.amount if applied
            else None, "points_earned": base + bonus + extra, "bonus_points": bonus,
            "campaign_points": extra, "tier": tier_in_force,
            "growth_value": tier.growth_for_amount(program, paid), "referrer_id": referrer_id,
            "referral_points": referral_points, "referral_pending": referrer_id is not None,
            "recorded_at": now, **_as_requested(request),
        }, keys.order(request.namespace, request.source, request.external_order_id))  # fmt: skip
        if row is None:
            return await _earlier(conn, request), True
        await coupon.redeem(conn, applied, row.id, now)
        if planned:
            awarded = await campaign.award(conn, planned, purchase=row, at=now)
            if awarded != extra:  # a campaign's budget could not hold its points
                row = await _set_campaign_points(conn, row, awarded)
        await _credit_earnings(conn, row, now)
        await benefit.upgrade_if_due(conn, program, member_id=buyer.id, current=tier_in_force,
                                     at=now, purchase_id=row.id,
                                     adding=(row.purchased_at, row.growth_value))  # fmt: skip
        return row, False


def _as_requested(request: _Request) -> dict[str, Any]:
    """A purchase's columns as the request gave them."""
    return {
        "channel": request.channel, "source": request.source,
        "external_order_id": request.external_order_id, "currency": request.currency,
        "partner_id": request.partner_id, "purchased_at": request.purchased_at,
        "request_hash": request.fingerprint, "namespace": request.namespace,
    }  # fmt: skip


async def _earlier(conn: AsyncConnection, request: _Request) -> Any | None:
    """The purchase recorded earlier for this order (checked to be the same request), found
    through the member holding the order's key."""
    holder = await keys.holder(
        conn, keys.order(request.namespace, request.source, request.external_order_id)
    )
    if holder is None:
        return None
    return await earlier(
        conn, purchases, request.fingerprint, f"{request.source}/{request.external_order_id}",
        member_id=holder, namespace=request.namespace, source=request.source,
        external_order_id=request.external_order_id,
    )  # fmt: skip


async def _set_campaign_points(conn: AsyncConnection, row: Any, awarded: int) -> Any:
    earned = row.points_earned - row.campaign_points + awarded
    return (await conn.execute(
        update(purchases).where(purchases.c.id == row.id)
        .values(points_earned=earned, campaign_points=awarded).returning(*purchases.c)
    )).one()  # fmt: skip


async def _credit_earnings(conn: AsyncConnection, row: Any, now: datetime) -> None:
    """The buyer's base points and tier bonus (from the partner at a partner, from issuance
    otherwise; the campaigns credited theirs). The referrer's share is another member's:
    loyalty.referral.settle_shares credits it after this transaction."""
    if row.points_earned - row.campaign_points:
        await ledger.transfer(
            conn, idempotency_key=f"purchase:{row.id}:earn",
            debit=earning_account(row.partner_id), credit=ledger.member_account(row.member_id),
            amount=row.points_earned - row.campaign_points, reason=TransferCode.EARN,
            reference=f"purchase:{row.id}", partner_id=row.partner_id, now=now,
        )  # fmt: skip


PURCHASE_COLUMNS = tuple(c for c in purchases.c if c.name != "request_hash")


# A purchase's basket before coupons: the amount paid when none applied (gross_amount is null).
GROSS = func.coalesce(purchases.c.gross_amount, purchases.c.amount)
purchases_by_id = keyed(PURCHASE_COLUMNS, purchases.c.id, visible=attrgetter("readable_purchases"))


async def purchase_pages(
    conn: AsyncConnection, keys: Sequence[PageKey], visible: Visibility
) -> list[list[PurchaseRow]]:
    """Pages of members' purchases, newest first (keys: member id, first, after id)."""

    def page_query(owners: list[int], limit: int, after: int | None) -> Select[Any]:
        inner = select(purchases.c.member_id.label("owner"), *PURCHASE_COLUMNS).where(
            purchases.c.member_id.in_(owners), visible.readable_purchases
        )
        if after is not None:
            inner = inner.where(purchases.c.id < after)
        return top_n_per_owner(inner, purchases.c.member_id, purchases.c.id, limit)

    return await load_pages(conn, keys, page_query)
