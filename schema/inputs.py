"""Input types. Every mutation input carries an idempotency key, or is idempotent by a natural
key it names (a purchase's source and order id, an identity, a redemption id)."""

from __future__ import annotations

from datetime import date, datetime
from decimal import Decimal

import strawberry

from partners.rate_card import RateCardTerms
from schema.enums import (
    Band,
    CampaignStatus,
    Channel,
    ConnectorKind,
    ConsentPurpose,
    CouponKind,
    Direction,
    ExchangeState,
    IdentityKind,
    InteractionKind,
    Lifecycle,
    PartnerStatus,
    RewardStatus,
    TemplateStatus,
    Tier,
)

IDEMPOTENCY_KEY = "A key unique to this request; repeating it answers with the first result."


@strawberry.input
class IdentityInput:
    kind: IdentityKind
    value: str
    partner_id: strawberry.ID | None = strawberry.field(
        default=None,
        description="For PARTNER_ACCOUNT: the partner whose program it is in (a partner's own "
        "client may leave it out).",
    )


@strawberry.input(one_of=True, description="A member, by id or by one of its identities.")
class MemberRefInput:
    id: strawberry.ID | None = strawberry.UNSET
    identity: IdentityInput | None = strawberry.UNSET


@strawberry.input
class EnrollMemberInput:
    display_name: str
    idempotency_key: str = strawberry.field(description=IDEMPOTENCY_KEY)
    identities: list[IdentityInput] = strawberry.field(default_factory=list)
    referral_code: str | None = strawberry.field(
        default=None, description="Another member's code: that member earns the referral bonus."
    )


@strawberry.input
class LinkIdentityInput:
    member_id: strawberry.ID
    identity: IdentityInput


@strawberry.input(description="Recorded once per (source, externalOrderId): that is its key.")
class RecordPurchaseInput:
    member: MemberRefInput
    channel: Channel
    source: str = strawberry.field(
        description="The shop, store or partner outlet the order is from."
    )
    external_order_id: str
    amount: Decimal
    currency: str | None = None
    partner_id: strawberry.ID | None = None
    purchased_at: datetime | None = None
    coupon_codes: list[str] | None = strawberry.field(
        default=None,
        description="The member's coupons to apply: `amount` is the basket before them, and "
        "the purchase earns on what is left to pay.",
    )


@strawberry.input
class RefundPurchaseInput:
    purchase_id: strawberry.ID
    amount: Decimal
    idempotency_key: str = strawberry.field(description=IDEMPOTENCY_KEY)


@strawberry.input
class RedeemPointsInput:
    member: MemberRefInput
    points: int
    channel: Channel
    idempotency_key: str = strawberry.field(description=IDEMPOTENCY_KEY)
    partner_id: strawberry.ID | None = None
    reference: str | None = None


@strawberry.input(description="Cancelling is idempotent by the redemption's id.")
class CancelRedemptionInput:
    redemption_id: strawberry.ID


@strawberry.input(description="A partner's code is its key: creating it again answers the same.")
class CreatePartnerInput:
    code: str
    name: str


@strawberry.input
class MemberFilter:
    tier: Tier | None = None
    enrolled_from: datetime | None = None
    enrolled_before: datetime | None = None
    has_identity_kind: IdentityKind | None = None
    lifecycle: Lifecycle | None = None
    spend: Band | None = None
    frequency: Band | None = None
    interactions: Band | None = None


@strawberry.input
class RecordInteractionInput:
    member: MemberRefInput
    kind: InteractionKind
    idempotency_key: str = strawberry.field(description=IDEMPOTENCY_KEY)
    occurred_at: datetime | None = None


@strawberry.input(
    description="Idempotent by the member: entering its referrer's code again answers the same."
)
class ApplyReferralCodeInput:
    member_id: strawberry.ID
    referral_code: str


@strawberry.input(description="A reward's code is its key: creating it again answers the same.")
class CreateRewardInput:
    code: str
    name: str
    point_cost: int
    description: str = ""
    stock: int | None = strawberry.field(default=None, description="Omit for unlimited.")
    partner_id: strawberry.ID | None = strawberry.field(
        default=None, description="The partner that fulfils the reward."
    )


@strawberry.input(description="Sets the given fields; setting the same values again is a no-op.")
class UpdateRewardInput:
    reward_id: strawberry.ID
    name: str | None = None
    description: str | None = None
    point_cost: int | None = None
    stock: int | None = None
    unlimited_stock: bool = False
    status: RewardStatus | None = None


@strawberry.input
class RedeemRewardInput:
    member: MemberRefInput
    reward_id: strawberry.ID
    idempotency_key: str = strawberry.field(description=IDEMPOTENCY_KEY)
    quantity: int = 1
    channel: Channel = Channel.ONLINE
    coupon_code: str | None = strawberry.field(
        default=None, description="The member's free-item coupon for this reward: no points."
    )


@strawberry.input(description="Idempotent by the pair: merging again answers the same.")
class MergeMembersInput:
    survivor_id: strawberry.ID
    merged_id: strawberry.ID


@strawberry.input
class RewardFilter:
    status: RewardStatus | None = None
    partner_id: strawberry.ID | None = None


@strawberry.input
class ConnectorInput:
    kind: ConnectorKind
    url: str | None = None
    secret: str | None = strawberry.field(default=None, description="The HMAC shared secret.")


@strawberry.input(description="Sets the given fields; setting the same values again is a no-op.")
class UpdatePartnerInput:
    partner_id: strawberry.ID
    name: str | None = None
    status: PartnerStatus | None = None
    settlement_currency: str | None = None
    timezone: str | None = strawberry.field(
        default=None, description="IANA zone whose calendar months are settlement periods."
    )
    connector: ConnectorInput | None = None
    campaign_points_limit: int | None = strawberry.field(
        default=None,
        description="The points the partner's running campaigns may award in all (0: none).",
    )
    coupon_budget_limit: Decimal | None = strawberry.field(
        default=None,
        description="The money the partner's running coupon templates may give in all (0: none).",
    )


@strawberry.input(description="Adds dated terms; they apply from validFrom on.")
class SetExchangeTermsInput:
    partner_id: strawberry.ID
    direction: Direction
    rate: Decimal = strawberry.field(description="Program points per partner unit.")
    min_points: int
    max_points: int
    step_points: int
    daily_cap_points: int
    valid_from: datetime
    fee_points: int = 0
    valid_to: datetime | None = None


@strawberry.input
class QuoteExchangeInput:
    member: MemberRefInput
    partner_id: strawberry.ID
    points: int


@strawberry.input
class RequestExchangeInput:
    quote_id: strawberry.ID
    idempotency_key: str = strawberry.field(description=IDEMPOTENCY_KEY)


@strawberry.input(
    description="A partner credits its units as our points; its reference is the idempotency key."
)
class CreditInboundExchangeInput:
    member: MemberRefInput
    units: int
    reference: str
    partner_id: strawberry.ID | None = strawberry.field(
        default=None, description="Operators name the partner; a partner's client is its own."
    )


@strawberry.input
class SubscribeWebhookInput:
    url: str
    partner_id: strawberry.ID | None = strawberry.field(
        default=None, description="Operators name the partner; a partner's client is its own."
    )


@strawberry.input
class ExchangeFilter:
    state: ExchangeState | None = None
    direction: Direction | None = None
    partner_id: strawberry.ID | None = None


# A rate card's defaults are the domain's (partners.rate_card).
_CARD = RateCardTerms()


@strawberry.input(description="Adds a dated rate card; omitted figures take DESIGN.md defaults.")
class AddRateCardInput:
    partner_id: strawberry.ID
    valid_from: datetime
    valid_to: datetime | None = None
    point_value: Decimal = _CARD.point_value
    issuance_cost_per_point: Decimal = _CARD.issuance_cost_per_point
    redemption_commission_percent: Decimal = _CARD.redemption_commission_percent
    outbound_unit_price: Decimal = _CARD.outbound_unit_price
    exchange_commission_percent: Decimal = _CARD.exchange_commission_percent
    platform_fee_monthly: Decimal = _CARD.platform_fee_monthly
    api_transaction_fee: Decimal = _CARD.api_transaction_fee


@strawberry.input(
    description="A coupon template; its code is its key (sending it again with the "
    "same terms answers the same template)."
)
class CreateCouponTemplateInput:
    code: str
    name: str
    kind: CouponKind
    reward_id: strawberry.ID | None = strawberry.field(
        default=None, description="FREE_ITEM only: the reward it gives without points."
    )
    amount_off: Decimal | None = None
    percent_off: Decimal | None = None
    max_discount: Decimal | None = None
    threshold: Decimal = Decimal(0)
    valid_from: datetime | None = None
    valid_until: datetime | None = None
    valid_hours: int | None = strawberry.field(default=None, description="From each issue.")
    channels: list[Channel] | None = None
    partner_id: strawberry.ID | None = None
    funded_by_partner_id: strawberry.ID | None = None
    per_member_limit: int | None = None
    total_limit: int | None = None
    budget: Decimal | None = None


@strawberry.input
class IssueCouponInput:
    template_id: strawberry.ID
    member_id: strawberry.ID
    idempotency_key: str = strawberry.field(description=IDEMPOTENCY_KEY)


@strawberry.input(description="A campaign; its code is its key.")
class CreateCampaignInput:
    code: str
    name: str
    starts_at: datetime
    ends_at: datetime
    priority: int = 0
    exclusive: bool = False
    monthly_day: int | None = None
    tiers: list[Tier] | None = None
    channels: list[Channel] | None = None
    partner_ids: list[strawberry.ID] | None = None
    lifecycles: list[Lifecycle] | None = None
    spend_bands: list[Band] | None = None
    frequency_bands: list[Band] | None = None
    multiplier: Decimal = Decimal(1)
    bonus_points: int = 0
    coupon_template_id: strawberry.ID | None = None
    points_budget: int | None = None
    funded_by_partner_id: strawberry.ID | None = None


@strawberry.input(
    description="Sets the given fields of a campaign not yet ended (its code, audience, coupon "
    "and funder are fixed); the same values again answer the same. status: PAUSED stops it "
    "until set ACTIVE again, ENDED ends it now."
)
class UpdateCampaignInput:
    campaign_id: strawberry.ID
    name: str | None = None
    starts_at: datetime | None = None
    ends_at: datetime | None = None
    priority: int | None = None
    exclusive: bool | None = None
    multiplier: Decimal | None = None
    bonus_points: int | None = None
    points_budget: int | None = strawberry.field(
        default=None, description="At least the points awarded so far."
    )
    status: CampaignStatus | None = None


@strawberry.input(
    description="Sets the given fields of a coupon template not retired (what a coupon gives "
    "is fixed: issued coupons keep it); the same values again answer the same. status: PAUSED "
    "stops issuing until set ACTIVE again, RETIRED for good."
)
class UpdateCouponTemplateInput:
    template_id: strawberry.ID
    name: str | None = None
    valid_until: datetime | None = None
    per_member_limit: int | None = None
    total_limit: int | None = strawberry.field(
        default=None, description="At least the coupons issued so far."
    )
    budget: Decimal | None = strawberry.field(
        default=None, description="At least the discount given so far."
    )
    status: TemplateStatus | None = None


@strawberry.input(
    description="A consent of the calling member (`me`) to a partner for a purpose; granting "
    "or withdrawing it again answers the same."
)
class ConsentInput:
    partner_id: strawberry.ID
    purpose: ConsentPurpose


@strawberry.input(description="A member's birth date (null clears it).")
class SetBirthDateInput:
    member_id: strawberry.ID
    birth_date: date | None


@strawberry.input(
    description="The program's own subscription to member events (a CRM, an app's push service)."
)
class SubscribeMemberEventsInput:
    url: str
    events: list[str] | None = strawberry.field(
        default=None,
        description="Some of coupon.issued, coupon.expiring, tier.changed, lifecycle.changed, "
        "benefit.granted; none given: all.",
    )
