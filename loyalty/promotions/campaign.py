"""Campaigns: time-boxed rules that add points to purchases (a member day with double points)
or grant a coupon, for an audience, within a points budget.

Stacking: a purchase's base points are multiplied first (each campaign that applies adds
base x (multiplier - 1), floored, plus its bonus points), then the tier bonus is earned on the
amount paid, then the referrer's share; they do not multiply each other. Campaigns apply in
priority order (higher first, then older); an exclusive campaign applies alone and only when it
comes first. A campaign whose budget cannot hold its points for a purchase gives that purchase
nothing (the conditional UPDATE that counts them is the guard, so it is never overspent).
A campaign applies to a purchase made while it is in force (the purchase's date, which a till
may send late), for the member's tier when it is recorded.

The campaigns in force are kept in memory (`CampaignBook`) and followed by a change feed, so a
purchase reads none from the database while the feed is live."""

from __future__ import annotations

from dataclasses import dataclass
from datetime import UTC, datetime
from decimal import ROUND_FLOOR, Decimal
from enum import StrEnum
from typing import Any
from zoneinfo import ZoneInfo

from sqlalchemy import insert, select, update
from sqlalchemy.ext.asyncio import AsyncConnection

from infra.database import Database, insert_unless_exists
from infra.feed import ChangeFeed, announce
from infra.models import campaign_awards, campaigns, coupon_templates
from infra.records import CampaignRow
from loyalty import bounds, ledger, segment
from loyalty.errors import ValidationFailed
from loyalty.idempotency import earlier, request_hash, retry_on_race
from loyalty.program import Program
from loyalty.promotions import coupon, funding
from loyalty.visibility import Visibility

CHANNEL = "pointgate_campaigns"
TIERS = ("SILVER", "GOLD", "DIAMOND")
LIFECYCLES = tuple(lifecycle.value for lifecycle in segment.Lifecycle)
BANDS = tuple(band.value for band in segment.Band)


class CampaignStatus(StrEnum):
    ACTIVE = "ACTIVE"
    PAUSED = "PAUSED"  # not in force until resumed (loyalty.promotions.changes)
    ENDED = "ENDED"


def _listed(values: tuple[Any, ...] | None) -> str | None:
    return None if values is None else ",".join(str(v) for v in sorted(set(values)))


@dataclass(frozen=True, slots=True)
class CampaignTerms:
    code: str
    name: str
    starts_at: datetime
    ends_at: datetime
    priority: int = 0
    exclusive: bool = False
    monthly_day: int | None = None
    tiers: tuple[str, ...] | None = None
    channels: tuple[str, ...] | None = None
    partner_ids: tuple[int, ...] | None = None
    lifecycles: tuple[str, ...] | None = None
    spend_bands: tuple[str, ...] | None = None
    frequency_bands: tuple[str, ...] | None = None
    multiplier: Decimal = Decimal(1)
    bonus_points: int = 0
    coupon_template_id: int | None = None
    points_budget: int | None = None
    funded_by_partner_id: int | None = None

    @property
    def gives_points(self) -> bool:
        return self.multiplier != 1 or self.bonus_points != 0

    def check(self) -> None:
        if not 0 < len(self.code.strip()) <= 64 or not 0 < len(self.name.strip()) <= 200:
            raise ValidationFailed("a campaign has a code (1-64) and a name (1-200)")
        if self.starts_at >= self.ends_at:
            raise ValidationFailed("a campaign starts before it ends", argument="endsAt")
        if self.monthly_day is not None and not 1 <= self.monthly_day <= 31:
            raise ValidationFailed("monthlyDay is 1 to 31", argument="monthlyDay")
        if not (1 <= self.multiplier <= 10) or self.multiplier != self.multiplier.quantize(
            Decimal("0.01")
        ):
            raise ValidationFailed("a multiplier is 1 to 10 with 2 decimals", argument="multiplier")
        for name in ("bonus_points", "points_budget", "priority"):
            value = getattr(self, name)
            out_of_bounds = None if value is None else bounds.problem(name, value)
            if out_of_bounds is not None:
                raise ValidationFailed(f"{name} {out_of_bounds}", argument=name)
        if self.multiplier == 1 and not self.bonus_points and self.coupon_template_id is None:
            raise ValidationFailed("a campaign multiplies points, adds some, or grants a coupon")
        if self.tiers is not None and (not self.tiers or set(self.tiers) - set(TIERS)):
            raise ValidationFailed(f"tiers are some of {', '.join(TIERS)}", argument="tiers")
        if self.channels is not None and (
            not self.channels or set(self.channels) - set(coupon.CHANNELS)
        ):
            raise ValidationFailed("channels are some of ONLINE, OFFLINE, PARTNER")
        for name, allowed in (("lifecycles", LIFECYCLES), ("spend_bands", BANDS),
                              ("frequency_bands", BANDS)):  # fmt: skip
            chosen = getattr(self, name)
            if chosen is not None and (not chosen or set(chosen) - set(allowed)):
                raise ValidationFailed(f"{name} are some of {', '.join(allowed)}")

    def row(self) -> dict[str, Any]:
        return {
            "code": self.code.strip(), "name": self.name.strip(), "priority": self.priority,
            "exclusive": self.exclusive, "starts_at": self.starts_at, "ends_at": self.ends_at,
            "monthly_day": self.monthly_day, "tiers": _listed(self.tiers),
            "channels": _listed(self.channels), "partner_ids": _listed(self.partner_ids),
            "lifecycles": _listed(self.lifecycles), "spend_bands": _listed(self.spend_bands),
            "frequency_bands": _listed(self.frequency_bands),
            "multiplier": self.multiplier, "bonus_points": self.bonus_points,
            "coupon_template_id": self.coupon_template_id, "points_budget": self.points_budget,
            "funded_by_partner_id": self.funded_by_partner_id,
        }  # fmt: skip


def _set(text: str | None) -> frozenset[str] | None:
    return None if text is None else frozenset(text.split(","))


@dataclass(frozen=True, slots=True)
class Campaign:
    """A campaign as a purchase reads it (from memory)."""

    id: int
    code: str
    priority: int
    exclusive: bool
    starts_at: datetime
    ends_at: datetime
    monthly_day: int | None
    tiers: frozenset[str] | None
    channels: frozenset[str] | None
    partner_ids: frozenset[str] | None
    lifecycles: frozenset[str] | None
    spend_bands: frozenset[str] | None
    frequency_bands: frozenset[str] | None
    multiplier: Decimal
    bonus_points: int
    coupon_template_id: int | None
    points_budget: int | None
    funded_by_partner_id: int | None

    @classmethod
    def from_row(cls, row: Any) -> Campaign:
        return cls(
            row.id, row.code, row.priority, bool(row.exclusive), row.starts_at, row.ends_at,
            row.monthly_day, _set(row.tiers), _set(row.channels), _set(row.partner_ids),
            _set(row.lifecycles), _set(row.spend_bands), _set(row.frequency_bands),
            Decimal(row.multiplier), row.bonus_points, row.coupon_template_id, row.points_budget,
            row.funded_by_partner_id,
        )  # fmt: skip

    def in_force(self, at: datetime, zone: ZoneInfo) -> bool:
        if not self.starts_at <= at < self.ends_at:
            return False
        return self.monthly_day is None or at.astimezone(zone).day == self.monthly_day

    def admits(self, tier: str, channel: str, partner_id: int | None) -> bool:
        return (
            (self.tiers is None or tier in self.tiers)
            and (self.channels is None or channel in self.channels)
            and (self.partner_ids is None or str(partner_id) in self.partner_ids)
        )

    @property
    def needs_insight(self) -> bool:
        return bool(self.lifecycles or self.spend_bands or self.frequency_bands)

    def admits_insight(self, insight: Any) -> bool:
        return (
            (self.lifecycles is None or insight.lifecycle.value in self.lifecycles)
            and (self.spend_bands is None or insight.spend_band.value in self.spend_bands)
            and (self.frequency_bands is None
                 or insight.frequency_band.value in self.frequency_bands)
        )  # fmt: skip

    def extra_points(self, base: int) -> int:
        multiplied = (base * (self.multiplier - 1)).to_integral_value(rounding=ROUND_FLOOR)
        return int(multiplied) + self.bonus_points


def applicable(
    in_book: list[Campaign], *, at: datetime, zone: ZoneInfo, tier: str, channel: str,
    partner_id: int | None, insight: Any = None,
) -> list[Campaign]:  # fmt: skip
    """The campaigns a purchase gets, in the order they apply (see the module's note); those
    whose audience names lifecycles or bands apply only given the member's `insight`."""
    chosen: list[Campaign] = []
    for campaign in sorted(in_book, key=lambda c: (-c.priority, c.id)):
        if not (campaign.in_force(at, zone) and campaign.admits(tier, channel, partner_id)):
            continue
        if campaign.needs_insight and (insight is None or not campaign.admits_insight(insight)):
            continue
        if campaign.exclusive:
            if not chosen:
                return [campaign]
            continue
        chosen.append(campaign)
        if len(chosen) == bounds.MAX_CAMPAIGNS_PER_PURCHASE:
            break
    return chosen


async def choose(
    conn: AsyncConnection, program: Program, in_book: list[Campaign], *, member_id: int,
    tier: str, channel: str, partner_id: int | None, at: datetime,
) -> list[Campaign]:  # fmt: skip
    """`applicable`, reading the member's lifecycle and bands (one statement) only when a
    campaign in force for it has such an audience."""
    zone = program.zone
    wanted = any(c.needs_insight and c.in_force(at, zone) and c.admits(tier, channel, partner_id)
                 for c in in_book)  # fmt: skip
    insight = (
        (await segment.insights(conn, program, [member_id], at))[member_id] if wanted else None
    )
    return applicable(in_book, at=at, zone=zone, tier=tier, channel=channel,
                      partner_id=partner_id, insight=insight)  # fmt: skip


@dataclass(frozen=True, slots=True)
class Planned:
    campaign: Campaign
    points: int


def plan(chosen: list[Campaign], base: int) -> list[Planned]:
    """Each campaign's points for a purchase of `base` points; base and campaign points
    together are at most `bounds.MAX_POINTS` (a later campaign gets what is left)."""
    planned, room = [], max(0, bounds.MAX_POINTS - base)
    for campaign in chosen:
        points = min(campaign.extra_points(base), room)
        room -= points
        planned.append(Planned(campaign, points))
    return planned


async def award(
    conn: AsyncConnection, planned: list[Planned], *, purchase: Any, at: datetime
) -> int:
    """Give a recorded purchase what its campaigns planned: count each campaign's points
    against its budget (a campaign that does not fit gives nothing), credit them from the
    funder (the program's issuance, or the funding partner's clearing account), grant the
    campaigns' coupons, and record the awards. Returns the points awarded in all."""
    awarded = []
    for item in planned:
        campaign, points = item.campaign, item.points
        if points and campaign.points_budget is not None:
            fits = await conn.execute(
                update(campaigns)
                .where(campaigns.c.id == campaign.id,
                       campaigns.c.points_awarded + points <= campaigns.c.points_budget)
                .values(points_awarded=campaigns.c.points_awarded + points)
                .returning(campaigns.c.id)
            )  # fmt: skip
            if fits.first() is None:
                continue
        if points:
            await ledger.transfer(
                conn, idempotency_key=f"purchase:{purchase.id}:campaign:{campaign.id}",
                debit=funding_account(campaign.funded_by_partner_id),
                credit=ledger.member_account(purchase.member_id), amount=points,
                reason=ledger.TransferCode.CAMPAIGN, reference=f"campaign:{campaign.code}",
                partner_id=campaign.funded_by_partner_id, now=at,
            )  # fmt: skip
        skipped = None
        if campaign.coupon_template_id is not None:
            skipped = await _grant_coupon(conn, campaign, purchase, at)
        awarded.append({"campaign_id": campaign.id, "purchase_id": purchase.id,
                        "member_id": purchase.member_id, "points": points,
                        "created_at": at, "coupon_skipped": skipped})  # fmt: skip
    if awarded:
        await conn.execute(insert(campaign_awards), awarded)
    return sum(row["points"] for row in awarded)


async def _grant_coupon(conn: AsyncConnection, campaign: Campaign, purchase: Any,
                        at: datetime) -> str | None:  # fmt: skip
    """Grant the campaign's coupon with the purchase; a grant its template refuses is skipped
    (coupon.grant), counted on the campaign, and its reason returned (kept on the award)."""
    granted = await coupon.grant(
        conn, template_id=campaign.coupon_template_id or 0, member_id=purchase.member_id,
        issue_key=f"campaign:{campaign.id}:purchase:{purchase.id}", now=at,
    )  # fmt: skip
    if granted.skipped is not None:
        await conn.execute(update(campaigns).where(campaigns.c.id == campaign.id)
                           .values(coupons_skipped=campaigns.c.coupons_skipped + 1))  # fmt: skip
    return granted.skipped


def funding_account(partner_id: int | None) -> ledger.AccountId:
    return ledger.ISSUANCE if partner_id is None else ledger.partner_clearing_account(partner_id)


async def awards_of_purchase(conn: AsyncConnection, purchase_id: int) -> list[Any]:
    return list(await conn.execute(
        select(campaign_awards, campaigns.c.funded_by_partner_id, campaigns.c.code)
        .join(campaigns, campaigns.c.id == campaign_awards.c.campaign_id)
        .where(campaign_awards.c.purchase_id == purchase_id, campaign_awards.c.points > 0)
        .order_by(campaign_awards.c.id)
    ))  # fmt: skip


async def mark_award_reversed(conn: AsyncConnection, award_id: int, points_reversed: int) -> None:
    await conn.execute(update(campaign_awards).where(campaign_awards.c.id == award_id)
                       .values(points_reversed=points_reversed))  # fmt: skip


async def create_campaign(
    db: Database, terms: CampaignTerms, *, visible: Visibility,
    now: datetime | None = None,
) -> CampaignRow:  # fmt: skip
    """Add a campaign (its code is its key: the same terms again answer the same campaign) and
    tell every process's book. Its coupon is of a template the caller runs."""
    terms.check()
    values = terms.row()
    fingerprint = request_hash(**values)
    now = now or datetime.now(UTC)

    async def attempt() -> Any:
        async with db.transaction() as conn:
            if terms.coupon_template_id is not None:
                await visible.check(conn, coupon_templates, terms.coupon_template_id)
            await funding.check_partners(conn, terms.partner_ids or ())
            if terms.funded_by_partner_id is not None:
                await funding.check_campaign(
                    conn, terms.funded_by_partner_id, gives_points=terms.gives_points,
                    budget=terms.points_budget, now=now,
                )  # fmt: skip
            # updated_at is when the row changed (the SQLite feed polls it), whatever `now` is.
            row = await insert_unless_exists(conn, campaigns, {
                **values, "status": CampaignStatus.ACTIVE, "request_hash": fingerprint,
                "created_at": now, "updated_at": datetime.now(UTC),
            })  # fmt: skip
            if row is None:
                return await earlier(conn, campaigns, fingerprint, values["code"],
                                     code=values["code"])  # fmt: skip
            await announce(conn, CHANNEL, values["code"])
            return row

    return await retry_on_race(attempt)


async def _not_ended(conn: AsyncConnection, at: datetime) -> list[Campaign]:
    rows = await conn.execute(
        select(campaigns).where(campaigns.c.status == CampaignStatus.ACTIVE,
                                campaigns.c.ends_at > at)
    )  # fmt: skip
    return [Campaign.from_row(row) for row in rows]


class CampaignBook:
    """The campaigns not yet ended. In memory while the change feed is live (`follow`, run by
    the app's lifespan); otherwise, and in a process that does not follow it, read from the
    database on each use."""

    def __init__(self) -> None:
        self._campaigns: list[Campaign] | None = None
        self._live = False
        # A read that overlapped a change is not kept: it may predate the change.
        self._heard = 0

    @property
    def live(self) -> bool:
        return self._live

    async def current(self, conn: AsyncConnection, at: datetime) -> list[Campaign]:
        if self._live and self._campaigns is not None:
            return self._campaigns
        heard = self._heard
        found = await _not_ended(conn, at)
        if self._live and heard == self._heard:
            self._campaigns = found
        return found

    def heard(self, _payload: str) -> None:
        self._heard += 1
        self._campaigns = None

    def trust(self, live: bool) -> None:
        self.heard("")
        self._live = live

    async def follow(self, db: Database) -> None:
        await ChangeFeed(db, CHANNEL, poll=_changed_since, heard=self.heard,
                         trust=self.trust).follow()  # fmt: skip


async def _changed_since(conn: AsyncConnection, since: datetime) -> list[str]:
    return list(await conn.scalars(select(campaigns.c.code).where(campaigns.c.updated_at >= since)))


# A book that always reads the database: for jobs, the CLI and tests.
READ_THROUGH = CampaignBook()
