"""Coupons: templates say what a coupon gives and where; coupons are issued from them to one
member each, once per (template, member, reason), with an unguessable code; a purchase applies
them (each redeemed exactly once, however many purchases try at once); a full refund within
the coupon's validity gives it back."""

from __future__ import annotations

import logging
import secrets
from dataclasses import dataclass
from datetime import UTC, datetime, timedelta
from decimal import ROUND_HALF_EVEN, Decimal
from enum import StrEnum
from operator import attrgetter
from typing import Any

from sqlalchemy import String, cast, func, select, update
from sqlalchemy.ext.asyncio import AsyncConnection

from infra.database import Database, insert_unless_exists
from infra.models import coupon_templates, coupons
from infra.reads import keyed
from infra.records import CouponRow
from loyalty import event, keys
from loyalty.errors import (
    CouponNotApplicable,
    IdempotencyConflict,
    InvalidState,
    NotFound,
    ValidationFailed,
)
from loyalty.idempotency import retry_on_race
from loyalty.membership import active_member
from loyalty.program import Program
from loyalty.promotions.template import CHANNELS as CHANNELS
from loyalty.promotions.template import CouponKind as CouponKind
from loyalty.promotions.template import TemplateStatus as TemplateStatus
from loyalty.promotions.template import TemplateTerms as TemplateTerms
from loyalty.promotions.template import create_template as create_template
from loyalty.promotions.template import list_templates as list_templates
from loyalty.promotions.template import templates_by_id as templates_by_id
from loyalty.visibility import EVERYTHING, Visibility

log = logging.getLogger("pointgate.promotions")

# Crockford's base32 without the letters people misread (I, L, O, U): 16 of them are 80 bits.
ALPHABET = "0123456789ABCDEFGHJKMNPQRSTVWXYZ"
CODE_LENGTH = 16
MAX_COUPONS_PER_PURCHASE = 5


class CouponState(StrEnum):
    ISSUED = "ISSUED"
    REDEEMED = "REDEEMED"
    EXPIRED = "EXPIRED"
    VOIDED = "VOIDED"


class Refusal(StrEnum):
    """Why a purchase may not use a coupon (extensions.reason of COUPON_NOT_APPLICABLE)."""

    NOT_FOUND = "NOT_FOUND"
    NOT_OWNER = "NOT_OWNER"
    ALREADY_USED = "ALREADY_USED"
    VOIDED = "VOIDED"
    EXPIRED = "EXPIRED"
    CHANNEL = "CHANNEL"
    PARTNER = "PARTNER"
    THRESHOLD = "THRESHOLD"
    BUDGET = "BUDGET"
    # A free-item coupon at a purchase, an amount coupon for a reward, or another reward.
    KIND = "KIND"


def refused(code: str, reason: Refusal, message: str) -> CouponNotApplicable:
    return CouponNotApplicable(f"coupon {code}: {message}", reason=reason.value, coupon=code)


def new_code() -> str:
    return "".join(secrets.choice(ALPHABET) for _ in range(CODE_LENGTH))


def normalized_code(text: str) -> str:
    """Codes are read as a cashier types them: any case, with spaces or dashes."""
    return "".join(ch for ch in text.upper() if ch not in " -")


def validity(template: Any, now: datetime) -> tuple[datetime, datetime]:
    """[from, until) of a coupon issued now: the template's fixed dates, or valid_hours from
    now (a next-purchase coupon issued at 10:00 on 1 March is valid until 10:00 on 8 March),
    whichever ends first."""
    start = max(template.valid_from or now, now)
    ends = [t for t in (template.valid_until,) if t is not None]
    if template.valid_hours is not None:
        ends.append(now + timedelta(hours=template.valid_hours))
    return start, min(ends)


async def _issuable(
    conn: AsyncConnection, template: Any, member_id: int, now: datetime
) -> tuple[datetime, datetime]:
    """The validity of a coupon of the template issued now, or INVALID_STATE: the template
    ended, or the member holds its per-member limit at once (coupons it can still use: used,
    expired and voided ones aside)."""
    valid_from, valid_until = validity(template, now)
    if template.status == TemplateStatus.PAUSED:
        raise InvalidState(f"coupon template {template.code} is paused", reason="TEMPLATE_PAUSED")
    if template.status != TemplateStatus.ACTIVE or valid_until <= now:
        raise InvalidState(f"coupon template {template.code} has ended", reason="TEMPLATE_ENDED")
    if template.per_member_limit is not None:
        held = await conn.scalar(select(func.count()).select_from(coupons).where(
            coupons.c.template_id == template.id, coupons.c.member_id == member_id,
            coupons.c.state == CouponState.ISSUED, coupons.c.valid_until > now))  # fmt: skip
        if held >= template.per_member_limit:
            raise InvalidState("the member holds as many of these coupons as it may",
                               reason="PER_MEMBER_LIMIT")  # fmt: skip
    return valid_from, valid_until


async def issue_coupon(
    conn: AsyncConnection,
    *,
    template_id: int,
    member_id: int,
    issue_key: str,
    now: datetime,
    visible: Visibility,
) -> tuple[CouponRow, bool]:
    """Issue a coupon of the template to the member, in the caller's transaction: once per
    (template, member, issue_key) (a repeat answers the first coupon), within the template's
    per-member and total limits. Returns the coupon and whether this call issued it."""
    template = (
        await conn.execute(select(coupon_templates).where(
            coupon_templates.c.id == template_id, visible.coupon_templates))
    ).first()  # fmt: skip
    if template is None:
        raise NotFound(f"coupon template {template_id} does not exist")
    await active_member(conn, member_id, visible.members)
    key = dict(template_id=template_id, member_id=member_id, issue_key=issue_key)
    existing = (await conn.execute(select(coupons).where(
        *(coupons.c[name] == value for name, value in key.items())))).first()  # fmt: skip
    if existing is not None:
        return existing, False
    valid_from, valid_until = await _issuable(conn, template, member_id, now)
    # Every refusal comes before the first write, so a caller may skip an issue that is
    # refused (a campaign's grant at a purchase) and go on in the same transaction.
    counted = await conn.execute(
        update(coupon_templates)
        .where(coupon_templates.c.id == template_id,
               coupon_templates.c.total_limit.is_(None)
               | (coupon_templates.c.issued_count < coupon_templates.c.total_limit))
        .values(issued_count=coupon_templates.c.issued_count + 1)
        .returning(coupon_templates.c.id)
    )  # fmt: skip
    if counted.first() is None:
        raise InvalidState(f"coupon template {template.code} has issued all it may",
                           reason="TOTAL_LIMIT")  # fmt: skip
    row = await insert_unless_exists(conn, coupons, {
        **key, "code": new_code(), "state": CouponState.ISSUED, "issued_at": now,
        "valid_from": valid_from, "valid_until": valid_until, "updated_at": now,
    })  # fmt: skip
    if row is None:  # a concurrent request issued it first: it counted it
        await conn.execute(update(coupon_templates).where(coupon_templates.c.id == template_id)
                           .values(issued_count=coupon_templates.c.issued_count - 1))  # fmt: skip
        found = (await conn.execute(select(coupons).where(
            *(coupons.c[name] == value for name, value in key.items())))).one()  # fmt: skip
        return found, False
    # A code drawn twice (across members) rolls the transaction back to run again.
    await keys.take(conn, keys.coupon(row.code), member_id)
    await event.emit(conn, "coupon.issued", now, member_id=member_id, coupon_id=row.id,
                     code=row.code, template=template.code, valid_from=row.valid_from,
                     valid_until=row.valid_until)  # fmt: skip
    return row, True


@dataclass(frozen=True, slots=True)
class Granted:
    """What a promotion's grant of a coupon gave: the coupon (None when skipped), whether this
    call issued it, and why the template refused it (TOTAL_LIMIT, PER_MEMBER_LIMIT,
    TEMPLATE_ENDED, TEMPLATE_PAUSED), if it did."""

    coupon: Any | None
    fresh: bool
    skipped: str | None = None


async def grant(
    conn: AsyncConnection, *, template_id: int, member_id: int, issue_key: str, now: datetime
) -> Granted:
    """A coupon a promotion grants (a campaign's, an offer's, a benefit's) inside the
    transaction of what triggers it (a purchase, an enrolment, a job): a promotion never stops
    that, so a grant the template refuses is skipped (and logged) instead of raised."""
    try:
        # The program grants it (not the caller of what triggered it): its own view.
        issued, fresh = await issue_coupon(conn, template_id=template_id, member_id=member_id,
                                           issue_key=issue_key, now=now,
                                           visible=EVERYTHING)  # fmt: skip
    except InvalidState as refused:  # raised before issue_coupon wrote anything
        reason = str(refused.extensions.get("reason") or "REFUSED")
        log.info("coupon grant %s of template %s to member %s skipped: %s", issue_key,
                 template_id, member_id, reason)  # fmt: skip
        return Granted(None, False, reason)
    return Granted(issued, fresh)


async def issue(
    db: Database,
    *,
    template_id: int,
    member_id: int,
    idempotency_key: str,
    visible: Visibility,
    now: datetime | None = None,
) -> CouponRow:
    """An operator's (or a funding partner's) issue: once per idempotency key. The key names
    one issue: the same key for another member or template is IDEMPOTENCY_CONFLICT."""
    now = now or datetime.now(UTC)
    issue_key = f"key:{idempotency_key}"

    async def attempt() -> Any:
        async with db.transaction() as conn:
            row, _ = await issue_coupon(conn, template_id=template_id, member_id=member_id,
                                        issue_key=issue_key, now=now,
                                        visible=visible)  # fmt: skip
            holder = await keys.claim(conn, keys.coupon_issue(idempotency_key), member_id)
            other_template = await conn.scalar(select(coupons.c.id).where(
                coupons.c.member_id == member_id, coupons.c.issue_key == issue_key,
                coupons.c.template_id != template_id))  # fmt: skip
            if holder != member_id or other_template is not None:
                raise IdempotencyConflict(
                    "this idempotency key issued another coupon (another member or template)"
                )
            return row

    return await retry_on_race(attempt)


@dataclass(frozen=True, slots=True)
class Applied:
    """A coupon a purchase uses, and the discount it gives."""

    coupon_id: int
    code: str
    template_id: int
    discount: Decimal
    funded_by_partner_id: int | None


async def _locked(conn: AsyncConnection, codes: list[str]) -> dict[str, Any]:
    """The coupons with these codes and their templates' columns (t_<name>), locked until the
    transaction ends."""
    query = (
        select(coupons, *(c.label(f"t_{c.name}") for c in coupon_templates.c))
        .join(coupon_templates, coupon_templates.c.id == coupons.c.template_id)
        .where(coupons.c.code.in_(codes))
    )
    if conn.dialect.name == "postgresql":
        query = query.with_for_update(of=coupons)
    return {row.code: row for row in await conn.execute(query)}


async def apply_free_item(
    conn: AsyncConnection, code: str, *, member_id: int, reward_id: int, channel: str,
    partner_id: int | None, at: datetime, minor_unit: Decimal,
) -> Applied:  # fmt: skip
    """The member's free-item coupon for this reward, locked, or COUPON_NOT_APPLICABLE."""
    wanted = normalized_code(code)
    row = (await _locked(conn, [wanted])).get(wanted)
    if row is None:
        raise refused(wanted, Refusal.NOT_FOUND, "no such coupon")
    _check(row, wanted, member_id=member_id, channel=channel, partner_id=partner_id,
           gross=row.t_threshold, at=at, minor_unit=minor_unit)  # fmt: skip
    if row.t_kind != CouponKind.FREE_ITEM or row.t_reward_id != reward_id:
        raise refused(wanted, Refusal.KIND, "it is not a free-item coupon for this reward")
    return Applied(row.id, wanted, row.template_id, Decimal(0), row.t_funded_by_partner_id)


def _discount(row: Any, gross: Decimal, program: Program) -> Decimal:
    """A coupon row's discount on `gross` (its template's columns are t_<name>): the amount
    off, or the percentage rounded half-even to the minor unit and capped."""
    if row.t_kind == CouponKind.AMOUNT_OFF:
        return Decimal(row.t_amount_off).quantize(program.minor_unit)
    off = (gross * row.t_percent_off / 100).quantize(program.minor_unit, ROUND_HALF_EVEN)
    return off if row.t_max_discount is None else min(off, row.t_max_discount)


async def apply_coupons(
    conn: AsyncConnection,
    program: Program,
    codes: list[str],
    *,
    member_id: int,
    channel: str,
    partner_id: int | None,
    gross: Decimal,
    at: datetime,
) -> list[Applied]:
    """The discounts `codes` give a purchase of `gross` by the member, or COUPON_NOT_APPLICABLE
    naming the first coupon it may not use and why. Each threshold is met by the amount before
    any discount; one coupon per template; together they leave something to pay. The coupons
    are locked until the purchase's transaction ends (redeem)."""
    wanted = list(dict.fromkeys(normalized_code(code) for code in codes))
    if len(wanted) > MAX_COUPONS_PER_PURCHASE:
        raise ValidationFailed(f"at most {MAX_COUPONS_PER_PURCHASE} coupons per purchase",
                               argument="input.couponCodes")  # fmt: skip
    found = await _locked(conn, wanted)
    applied: list[Applied] = []
    for code in wanted:
        row = found.get(code)
        if row is None:
            raise refused(code, Refusal.NOT_FOUND, "no such coupon")
        _check(row, code, member_id=member_id, channel=channel, partner_id=partner_id,
               gross=gross, at=at, minor_unit=program.minor_unit)  # fmt: skip
        if row.t_kind == CouponKind.FREE_ITEM:
            raise refused(code, Refusal.KIND, "a free-item coupon is used to redeem its reward")
        if any(a.template_id == row.template_id for a in applied):
            raise refused(code, Refusal.ALREADY_USED, "one coupon of a kind per purchase")
        applied.append(Applied(row.id, code, row.template_id, _discount(row, gross, program),
                               row.t_funded_by_partner_id))  # fmt: skip
    if applied and sum(a.discount for a in applied) >= gross:
        raise refused(applied[-1].code, Refusal.THRESHOLD,
                      "the discounts would take off the whole amount")  # fmt: skip
    return applied


def _check(row: Any, code: str, *, member_id: int, channel: str, partner_id: int | None,
           gross: Decimal, at: datetime, minor_unit: Decimal) -> None:  # fmt: skip
    if row.member_id != member_id:
        raise refused(code, Refusal.NOT_OWNER, "it belongs to another member")
    if row.state == CouponState.REDEEMED:
        raise refused(code, Refusal.ALREADY_USED, "it was used already")
    if row.state == CouponState.VOIDED:
        raise refused(code, Refusal.VOIDED, "it was voided")
    if row.state == CouponState.EXPIRED or not row.valid_from <= at < row.valid_until:
        raise refused(code, Refusal.EXPIRED,
                      f"it is valid from {row.valid_from:%Y-%m-%d %H:%M} until "
                      f"{row.valid_until:%Y-%m-%d %H:%M} UTC")  # fmt: skip
    channels = row.t_channels.split(",") if row.t_channels else None
    if channels is not None and channel not in channels:
        raise refused(code, Refusal.CHANNEL, f"it is valid only {', '.join(channels)}")
    if row.t_partner_id is not None and partner_id != row.t_partner_id:
        raise refused(code, Refusal.PARTNER, "it is valid only at another partner")
    if gross < row.t_threshold:
        needs = row.t_threshold.quantize(minor_unit)
        raise refused(code, Refusal.THRESHOLD, f"it needs a purchase of {needs} or more")


async def redeem(
    conn: AsyncConnection, applied: list[Applied], purchase_id: int | None, at: datetime,
    *, redemption_id: int | None = None,
) -> None:  # fmt: skip
    """Mark the coupons redeemed by the purchase and count their discounts against their
    templates' budgets: exactly one purchase redeems a coupon (the conditional UPDATE is the
    guard when another won the race); over a budget, COUPON_NOT_APPLICABLE (BUDGET)."""
    for coupon in applied:
        taken = await conn.execute(
            update(coupons)
            .where(coupons.c.id == coupon.coupon_id, coupons.c.state == CouponState.ISSUED)
            .values(state=CouponState.REDEEMED, purchase_id=purchase_id,
                    redemption_id=redemption_id, discount=coupon.discount, redeemed_at=at,
                    updated_at=at)
            .returning(coupons.c.id)
        )  # fmt: skip
        if taken.first() is None:
            raise refused(coupon.code, Refusal.ALREADY_USED, "it was used already")
        total = coupon_templates.c.discount_total + coupon.discount
        counted = await conn.execute(
            update(coupon_templates)
            .where(coupon_templates.c.id == coupon.template_id,
                   coupon_templates.c.budget.is_(None) | (total <= coupon_templates.c.budget))
            .values(discount_total=total, redeemed_count=coupon_templates.c.redeemed_count + 1)
            .returning(coupon_templates.c.id)
        )  # fmt: skip
        if counted.first() is None:
            raise refused(coupon.code, Refusal.BUDGET, "its promotion's budget is spent")


async def give_back(
    conn: AsyncConnection, purchase_id: int | None, at: datetime, *,
    redemption_id: int | None = None,
) -> int:  # fmt: skip
    """A fully refunded purchase (or a cancelled redemption) gives back the coupons it used that
    are still valid (ISSUED again, their discounts uncounted); returns how many."""
    used_by = (coupons.c.purchase_id == purchase_id if purchase_id is not None
               else coupons.c.redemption_id == redemption_id)  # fmt: skip
    used = list(await conn.execute(
        select(coupons.c.id, coupons.c.template_id, coupons.c.discount).where(
            used_by, coupons.c.state == CouponState.REDEEMED, coupons.c.valid_until > at)
    ))  # fmt: skip
    for coupon in used:
        await conn.execute(
            update(coupons).where(coupons.c.id == coupon.id)
            .values(state=CouponState.ISSUED, purchase_id=None, redemption_id=None,
                    discount=None, redeemed_at=None, updated_at=at)
        )  # fmt: skip
        await conn.execute(
            update(coupon_templates).where(coupon_templates.c.id == coupon.template_id)
            .values(discount_total=coupon_templates.c.discount_total - coupon.discount,
                    redeemed_count=coupon_templates.c.redeemed_count - 1)
        )  # fmt: skip
    return len(used)


async def void_unused(
    conn: AsyncConnection, *, member_id: int, coupon_id: int | None = None,
    issue_key_like: str | None = None, at: datetime,
) -> int:  # fmt: skip
    """Void the member's still ISSUED coupons (one by id, or those whose issue key matches a
    LIKE pattern) because what granted them was taken back; returns how many. Their issue key
    is set aside (`...:withdrawn:<id>`), so the same reason may grant a coupon again."""
    which = (coupons.c.id == coupon_id if coupon_id is not None
             else coupons.c.issue_key.like(issue_key_like or ""))  # fmt: skip
    voided = await conn.execute(
        update(coupons).where(coupons.c.member_id == member_id, which,
                              coupons.c.state == CouponState.ISSUED)
        .values(state=CouponState.VOIDED, updated_at=at,
                issue_key=coupons.c.issue_key + ":withdrawn:" + cast(coupons.c.id, String))
        .returning(coupons.c.id)
    )  # fmt: skip
    return len(voided.all())


async def void(
    db: Database, coupon_id: int, *, visible: Visibility, now: datetime | None = None
) -> CouponRow:
    """Void an ISSUED coupon (it can no longer be used); voiding it again answers the same. A
    used or expired coupon cannot be voided (INVALID_STATE)."""
    now = now or datetime.now(UTC)
    async with db.transaction() as conn:
        await visible.check(conn, coupons, coupon_id)
        row = (await conn.execute(
            update(coupons).where(coupons.c.id == coupon_id, coupons.c.state == CouponState.ISSUED)
            .values(state=CouponState.VOIDED, updated_at=now).returning(*coupons.c)
        )).first()  # fmt: skip
        if row is not None:
            return row
        current = (await conn.execute(select(coupons).where(coupons.c.id == coupon_id))).one()
        if current.state != CouponState.VOIDED:
            raise InvalidState(f"coupon {current.code} is {current.state}")
        return current


# A member's coupons, newest first, and a purchase's; rows the caller may not see load as missing.
coupons_of = keyed(tuple(coupons.c), coupons.c.member_id, visible=attrgetter("coupons"),
                   order_by=(coupons.c.member_id, coupons.c.id.desc()))  # fmt: skip
coupons_of_purchases = keyed(tuple(coupons.c), coupons.c.purchase_id,
                             visible=attrgetter("coupons"), order_by=(coupons.c.id,))  # fmt: skip
