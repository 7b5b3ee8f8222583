"""Object types. Plain fields are plain attributes (no per-field wrappers); every related object
is loaded through the request's dataloaders, reached via `info.context.loaders`."""

from __future__ import annotations

from datetime import date, datetime
from decimal import Decimal
from typing import Any

import strawberry

from loyalty import data_reads, sealing
from loyalty.errors import NotFound, ValidationFailed
from loyalty.promotions import benefit
from schema.enums import (
    Channel,
    IdentityKind,
    InteractionKind,
    Lifecycle,
    MemberStatus,
    Tier,
    TransferPhase,
)
from schema.info import Info
from schema.pagination import (
    Connection,
    build_connection,
    check_page_size,
    decode_cursor,
    parse_id,
)
from schema.partner import Partner, PartnerAccount, partner_of
from schema.privacy import Consent
from schema.promotions import Campaign, Coupon
from schema.rows import Row
from schema.scalars import BigInt, money
from schema.standing import ExpiringPoints, Segment, TierChange, TierProgress

# Days ahead `expiringPoints(within:)` may look: the longest expiry rule is years, not decades.
MAX_EXPIRY_LOOKAHEAD_DAYS = 3660


@strawberry.type(description="A benefit of the member's tier.")
class MemberBenefit:
    code: str
    name: str
    kind: str = strawberry.field(description="CASHBACK, COUPON_GRANT, GIFT, SERVICE_LEVEL or FLAG.")
    value: str


@strawberry.type(description="Something the member was granted: a gift or a coupon grant.")
class BenefitGrant(Row):
    benefit: str = strawberry.field(description="The benefit's code (birthday-gift, ...).")
    period: str = strawberry.field(description="once, year-N (membership year) or a year.")
    granted_at: datetime
    coupon_code: str | None = strawberry.field(description="The coupon, for a coupon grant.")

    @strawberry.field(description="The benefit's name and kind in the program's catalogue.")
    def name(self, info: Info) -> str | None:
        found = benefit.find(info.context.program, self.benefit)
        return None if found is None else found.name

    @strawberry.field(description="GIFT, COUPON_GRANT, ... (null: no longer in the catalogue).")
    def kind(self, info: Info) -> str | None:
        found = benefit.find(info.context.program, self.benefit)
        return None if found is None else found.kind


@strawberry.type
class Identity(Row):
    kind: IdentityKind
    value: str
    linked_at: datetime

    @classmethod
    def from_row(cls, row: Any, **given: Any) -> Identity:
        # An e-mail or phone is stored sealed, under a keyed hash (loyalty.sealing).
        return super().from_row(row, value=sealing.shown(row), **given)


@strawberry.type(description="A member's points. available = posted - pending.")
class Balance:
    posted: BigInt = strawberry.field(description="Points of posted transfers, in minus out.")
    pending: BigInt = strawberry.field(description="Points held by pending transfers out.")
    available: BigInt = strawberry.field(description="Points the member can spend now.")
    incoming: BigInt = strawberry.field(description="Points of pending transfers in.")


@strawberry.type
class LedgerEntry(Row):
    id: strawberry.ID = strawberry.field(name="transferId")
    points: BigInt = strawberry.field(description="Effect on this account: positive adds points.")
    phase: TransferPhase
    reason: str
    reference: str | None
    counterparty: str = strawberry.field(description="The other account of the transfer.")
    created_at: datetime


async def member_of(info: Info, member_id: int) -> Member:
    """A related member; one the caller may not see is NOT_FOUND, like a missing one."""
    row = await info.context.loaders.member_by_id.load(member_id)
    if row is None:  # no id in the message: the caller may never have seen it
        raise NotFound("the member does not exist")
    return Member.from_row(row)


@strawberry.type
class MemberAndPartner(Row):
    """The member a record belongs to, and the partner it was made at (if any)."""

    member_id: strawberry.Private[int]
    partner_id: strawberry.Private[int | None]

    @strawberry.field
    async def member(self, info: Info) -> Member:
        return await member_of(info, self.member_id)

    @strawberry.field
    async def partner(self, info: Info) -> Partner | None:
        return await partner_of(info, self.partner_id)


@strawberry.federation.type(keys=["id"])
class Purchase(MemberAndPartner):
    id: strawberry.ID
    channel: Channel
    source: str
    external_order_id: str
    amount: Decimal
    currency: str
    points_earned: int
    refunded_amount: Decimal
    points_reversed: int
    purchased_at: datetime
    recorded_at: datetime
    bonus_points: int = strawberry.field(description="Of pointsEarned, the tier bonus.")
    tier: Tier | None = strawberry.field(description="The member's tier when it was recorded.")
    growth_value: int
    referral_points: int = strawberry.field(description="What the member's referrer earned.")
    gross_amount: Decimal = strawberry.field(
        description="The basket before coupons; `amount` is what was paid (and earns)."
    )
    campaign_points: int = strawberry.field(description="Of pointsEarned, what campaigns added.")

    @classmethod
    def priced(cls, row: Any, exponent: int) -> Purchase:
        """With its amounts at the program's currency exponent."""
        gross = row.amount if row.gross_amount is None else row.gross_amount
        return cls.from_row(
            row,
            amount=money(row.amount, exponent),
            refunded_amount=money(row.refunded_amount, exponent),
            gross_amount=money(gross, exponent),
        )

    @strawberry.field(description="The coupons this purchase used, with what each took off.")
    async def discounts(self, info: Info) -> list[Coupon]:
        rows = await info.context.loaders.coupons_by_purchase.load(int(self.id))
        return [Coupon.priced(row, info.context.program.currency_exponent) for row in rows]

    @classmethod
    async def resolve_reference(cls, info: Info, id: strawberry.ID) -> Purchase | None:
        row = await info.context.loaders.purchase_by_id.load(parse_id(id))
        if row is None:
            return None
        return cls.priced(row, info.context.program.currency_exponent)


@strawberry.type
class Refund(Row):
    id: strawberry.ID
    amount: Decimal
    points_reversed: int
    points_unrecovered: int = strawberry.field(
        description="Points due back that the member had already spent beyond the allowed limit."
    )
    referral_points_reversed: int = strawberry.field(
        description="Taken back from the buyer's referrer, whose share this refund reverses."
    )
    created_at: datetime
    purchase_id: strawberry.Private[int]

    @classmethod
    def priced(cls, row: Any, exponent: int) -> Refund:
        return cls.from_row(row, amount=money(row.amount, exponent))

    @strawberry.field
    async def purchase(self, info: Info) -> Purchase:
        row = await info.context.loaders.purchase_by_id.load(self.purchase_id)
        if row is None:
            raise NotFound(f"purchase {self.purchase_id} does not exist")
        return Purchase.priced(row, info.context.program.currency_exponent)


@strawberry.type
class AuditEntry(Row):
    id: strawberry.ID
    at: datetime
    principal_kind: str
    subject: str
    client_id: str | None
    partner_id: strawberry.ID | None
    action: str
    target: str | None
    outcome: str
    trace_id: str | None


@strawberry.type
class Interaction(Row):
    id: strawberry.ID
    kind: InteractionKind
    growth_value: int
    occurred_at: datetime
    member_id: strawberry.Private[int]

    @strawberry.field
    async def member(self, info: Info) -> Member:
        return await member_of(info, self.member_id)


@strawberry.type(description="A member enrolled with a referral code, as its referrer sees it.")
class Referral(Row):
    display_name: str
    referred_at: datetime | None
    status: MemberStatus
    qualified: bool = strawberry.field(description="Whether the referee has made a purchase.")
    # The referee's member id.
    id: strawberry.Private[int]

    @strawberry.field(description="The referee's record, for those who may see it (not its "
                      "referrer as a member).")  # fmt: skip
    async def member(self, info: Info) -> Member | None:
        row = await info.context.loaders.member_by_id.load(self.id)
        return None if row is None else Member.from_row(row)


@strawberry.federation.type(keys=["id"])
class Member(Row):
    id: strawberry.ID
    display_name: str
    tier: Tier
    status: MemberStatus
    enrolled_at: datetime
    referral_code: str | None = strawberry.field(
        description="Give it to a friend: enrolling with it earns you the referral bonus."
    )
    referred_at: datetime | None
    merged_at: datetime | None
    referred_by_id: strawberry.Private[int | None]
    merged_into_id: strawberry.Private[int | None]
    __columns__ = {"referred_by_id": "referred_by", "merged_into_id": "merged_into"}

    @classmethod
    def from_row(cls, row: Any, **given: Any) -> Member:
        data_reads.note(row.id)  # a partner's client reading it: counted (loyalty.data_reads)
        return super().from_row(row, **given)

    @strawberry.field(
        description="Shown to the member itself, to operators, and to a partner the member "
        "consented to (BIRTH_DATE)."
    )
    async def birth_date(self, info: Info) -> date | None:
        born_on: date | None = await info.context.loaders.birth_date_by_member.load(int(self.id))
        return born_on

    @strawberry.field(
        description="The member's consents to partners, with their history, oldest first: the "
        "member's own and operators' to see (a partner: those given to it)."
    )
    async def consents(self, info: Info) -> list[Consent]:
        rows = await info.context.loaders.consents_by_member.load(int(self.id))
        return [Consent.from_row(row) for row in rows]

    @strawberry.field(
        description="What the member's tier gives now, with the value a shop or app applies "
        "(a cashback percentage, a service level, true for a flag such as free shipping)."
    )
    def benefits(self, info: Info) -> list[MemberBenefit]:
        program = info.context.program
        return [
            MemberBenefit(code=b.code, name=b.name, kind=b.kind,
                          value=benefit.value_of(b, program))
            for b in benefit.benefits_of(program, self.tier.value)
        ]  # fmt: skip

    @strawberry.field(
        description="What the member was granted (gift packs, birthday and annual target "
        "gifts, coupon grants), oldest first: the member's own and operators' to see."
    )
    async def grants(self, info: Info) -> list[BenefitGrant]:
        rows = await info.context.loaders.grants_by_member.load(int(self.id))
        return [BenefitGrant.from_row(row) for row in rows]

    @classmethod
    async def resolve_reference(cls, info: Info, id: strawberry.ID) -> Member | None:
        row = await info.context.loaders.member_by_id.load(parse_id(id))
        return None if row is None else cls.from_row(row)

    @strawberry.field
    async def identities(self, info: Info) -> list[Identity]:
        rows = await info.context.loaders.identities_by_member.load(int(self.id))
        return [Identity.from_row(row) for row in rows]

    @strawberry.field
    async def balance(self, info: Info) -> Balance:
        balance = await info.context.loaders.balance_by_member.load(int(self.id))
        return Balance(
            posted=balance.posted,
            pending=balance.held,
            available=balance.available,
            incoming=balance.incoming,
        )

    @strawberry.field(description="Purchases, newest first.")
    async def purchases(
        self, info: Info, first: int = 10, after: str | None = None
    ) -> Connection[Purchase]:
        check_page_size(first)
        key = (int(self.id), first, decode_cursor("purchase", after))
        rows = await info.context.loaders.purchases_by_member.load(key)
        exponent = info.context.program.currency_exponent
        return build_connection(rows, first, "purchase", lambda r: Purchase.priced(r, exponent))

    @strawberry.field(description="The member account's transfers, newest first.")
    async def ledger(
        self, info: Info, first: int = 20, after: str | None = None
    ) -> Connection[LedgerEntry]:
        check_page_size(first)
        key = (int(self.id), first, decode_cursor("entry", after))
        rows = await info.context.loaders.ledger_entries_by_member.load(key)
        return build_connection(rows, first, "entry", LedgerEntry.from_row)

    @strawberry.field(description="Growth value over the rolling growth window.")
    async def growth_value(self, info: Info) -> BigInt:
        value: BigInt = await info.context.loaders.growth_value_by_member.load(int(self.id))
        return value

    @strawberry.field(description="The tier, growth value and what the next tier still needs.")
    async def tier_progress(self, info: Info) -> TierProgress:
        growth = await info.context.loaders.growth_value_by_member.load(int(self.id))
        return TierProgress.build(info.context.program, self.tier, growth)

    @strawberry.field(
        description="Campaigns running or coming for the member's tier (a member day shows its "
        "monthlyDay)."
    )
    async def campaigns(self, info: Info) -> list[Campaign]:
        rows = await info.context.loaders.campaigns_by_tier.load(self.tier.value)
        return [Campaign.of(row) for row in rows]

    @strawberry.field(description="The member's coupons, newest first.")
    async def coupons(self, info: Info) -> list[Coupon]:
        rows = await info.context.loaders.coupons_by_member.load(int(self.id))
        return [Coupon.priced(row, info.context.program.currency_exponent) for row in rows]

    @strawberry.field(description="Tier changes, newest first.")
    async def tier_history(self, info: Info) -> list[TierChange]:
        rows = await info.context.loaders.tier_changes_by_member.load(int(self.id))
        return [TierChange.from_row(row) for row in rows]

    @strawberry.field
    async def lifecycle(self, info: Info) -> Lifecycle:
        insight = await info.context.loaders.insight_by_member.load(int(self.id))
        return Lifecycle(insight.lifecycle)

    @strawberry.field
    async def segment(self, info: Info) -> Segment:
        insight = await info.context.loaders.insight_by_member.load(int(self.id))
        return Segment.build(info.context.program, insight)

    @strawberry.field(description="Points of lots that expire within `within` days.")
    async def expiring_points(self, info: Info, within: int = 30) -> ExpiringPoints:
        if not 0 <= within <= MAX_EXPIRY_LOOKAHEAD_DAYS:
            raise ValidationFailed(
                f"within is 0 to {MAX_EXPIRY_LOOKAHEAD_DAYS} days", argument="within"
            )
        key = (int(self.id), within)
        return ExpiringPoints.build(await info.context.loaders.expiring_points_by_member.load(key))

    @strawberry.field(description="The member whose referral code this member enrolled with.")
    async def referred_by(self, info: Info) -> Member | None:
        if self.referred_by_id is None:
            return None
        return await member_of(info, self.referred_by_id)

    @strawberry.field(description="Members who enrolled with this member's code, newest first.")
    async def referrals(
        self, info: Info, first: int = 20, after: str | None = None
    ) -> Connection[Referral]:
        check_page_size(first)
        key = (int(self.id), first, decode_cursor("member", after))
        rows = await info.context.loaders.referrals_by_member.load(key)
        return build_connection(rows, first, "member", Referral.from_row)

    @strawberry.field(description="The member's accounts in partner programs.")
    async def partner_accounts(self, info: Info) -> list[PartnerAccount]:
        rows = await info.context.loaders.identities_by_member.load(int(self.id))
        return [
            PartnerAccount(external_id=row.value, partner_id=row.partner_id)
            for row in rows
            if row.kind == "PARTNER_ACCOUNT" and row.partner_id is not None
        ]

    @strawberry.field(description="For a merged member: the member that absorbed it.")
    async def merged_into(self, info: Info) -> Member | None:
        if self.merged_into_id is None:
            return None
        return await member_of(info, self.merged_into_id)
