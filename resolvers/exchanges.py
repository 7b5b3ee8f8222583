"""Root fields for partners (their settings and exchange terms) and point exchanges."""

from __future__ import annotations

import strawberry

from auth import ownership
from loyalty.errors import NotFound
from loyalty.member import MemberRef, find_by_identity
from partners import exchange, registry, webhook
from partners.registry import ConnectorKind, Direction, PartnerStatus, Terms
from resolvers import access
from resolvers.convert import member_ref, optional_id
from resolvers.dataloaders import prime_rows
from schema.exchange import Exchange, Quote, WebhookSubscription
from schema.info import Info
from schema.inputs import (
    CreatePartnerInput,
    CreditInboundExchangeInput,
    ExchangeFilter,
    QuoteExchangeInput,
    RequestExchangeInput,
    SetExchangeTermsInput,
    SubscribeMemberEventsInput,
    SubscribeWebhookInput,
    UpdatePartnerInput,
)
from schema.pagination import Connection, build_connection, check_page_size, decode_cursor, parse_id
from schema.partner import ExchangeTerms, Partner
from schema.permissions import (
    ADMIN,
    CREDIT_INBOUND,
    READ_EXCHANGES,
    SUBSCRIBE,
    WRITE_EXCHANGES,
)


def own_partner(info: Info, named: strawberry.ID | None) -> int:
    """The partner the call acts for (auth.ownership decides)."""
    return ownership.acting_partner(info.context.principal, optional_id(named))


async def _member_id(info: Info, ref: MemberRef) -> int:
    """The id of the member a reference names (whether the caller may act on it, the domain
    checks in the transaction that acts)."""
    if ref.member_id is not None:
        return ref.member_id
    assert ref.identity is not None
    kind = ref.identity.kind
    found = await find_by_identity(info.context.db, kind, ref.identity.value, info.context.visible)
    # A member the caller may not see is answered as an identity nobody holds.
    if found is None or await info.context.loaders.member_by_id.load(found) is None:
        raise NotFound(f"no member has this {kind} identity")
    return found


def _page(after: str | None) -> int:
    return decode_cursor("offset", after) or 0


@strawberry.type
class ExchangeQueries:
    @strawberry.field(permission_classes=[READ_EXCHANGES])
    async def exchange(self, info: Info, id: strawberry.ID) -> Exchange:
        row = await info.context.loaders.exchange_by_id.load(str(id))
        if row is None:
            raise NotFound(f"exchange {id} does not exist")
        return Exchange.from_row(row)

    @strawberry.field(
        description="Exchanges, newest first: a member's own, a partner's own, or all (admin).",
        permission_classes=[READ_EXCHANGES],
    )
    async def exchanges(
        self,
        info: Info,
        first: int = 20,
        after: str | None = None,
        filter: ExchangeFilter | None = None,
    ) -> Connection[Exchange]:
        check_page_size(first)
        criteria = filter or ExchangeFilter()
        offset = _page(after)
        rows = await exchange.list_exchanges(
            info.context.db, limit=first + 1, offset=offset,
            visible=info.context.visible,
            state=None if criteria.state is None else exchange.ExchangeState(criteria.state),
            direction=None if criteria.direction is None else Direction(criteria.direction),
            partner_id=optional_id(criteria.partner_id),
        )  # fmt: skip
        prime_rows(info.context.loaders.exchange_by_id, rows)
        return build_connection(
            [_Positioned(row, offset + n + 1) for n, row in enumerate(rows)], first, "offset",
            lambda positioned: Exchange.from_row(positioned.row),
        )  # fmt: skip


class _Positioned:
    """Offset cursors: exchange ids are random, so the page position is the cursor."""

    def __init__(self, row: object, position: int) -> None:
        self.row = row
        self.id = position


@strawberry.type
class PartnerMutations:
    @strawberry.mutation(permission_classes=[ADMIN])
    async def create_partner(self, info: Info, input: CreatePartnerInput) -> Partner:
        row = await registry.create_partner(info.context.db, code=input.code, name=input.name)
        return Partner.from_row(row)

    @strawberry.mutation(permission_classes=[ADMIN])
    async def update_partner(self, info: Info, input: UpdatePartnerInput) -> Partner:
        connector = input.connector
        row = await registry.update_partner(
            info.context.db, partner_id=parse_id(input.partner_id), name=input.name,
            status=None if input.status is None else PartnerStatus(input.status),
            settlement_currency=input.settlement_currency, timezone=input.timezone,
            connector_kind=None if connector is None else ConnectorKind(connector.kind),
            connector_url=None if connector is None else connector.url,
            connector_secret=None if connector is None else connector.secret,
            campaign_points_limit=input.campaign_points_limit,
            coupon_budget_limit=input.coupon_budget_limit,
        )  # fmt: skip
        return Partner.from_row(row)

    @strawberry.mutation(permission_classes=[ADMIN])
    async def set_exchange_terms(self, info: Info, input: SetExchangeTermsInput) -> ExchangeTerms:
        row = await registry.set_exchange_terms(
            info.context.db, partner_id=parse_id(input.partner_id),
            direction=Direction(input.direction),
            terms=Terms(rate=input.rate, min_points=input.min_points,
                        max_points=input.max_points, step_points=input.step_points,
                        daily_cap_points=input.daily_cap_points, fee_points=input.fee_points),
            valid_from=input.valid_from, valid_to=input.valid_to,
        )  # fmt: skip
        return ExchangeTerms.from_row(row)


@strawberry.type
class ExchangeMutations:
    @strawberry.mutation(
        description="A rate-locked quote for moving points to the member's account in a "
        "partner's program.",
        permission_classes=[WRITE_EXCHANGES],
    )
    async def quote_exchange(self, info: Info, input: QuoteExchangeInput) -> Quote:
        member_id = await _member_id(info, member_ref(input.member))
        partner_id = own_partner(info, input.partner_id)
        row = await exchange.quote_exchange(
            info.context.db, info.context.program, member_id=member_id, partner_id=partner_id,
            points=input.points, requested_by=ownership.actor_key(info.context.principal),
            visible=info.context.visible,
        )  # fmt: skip
        return Quote.from_row(row)

    @strawberry.mutation(
        description="Carry out a quote. Ends POSTED or VOIDED, or UNKNOWN until reconciliation "
        "hears from the partner; the points stay held meanwhile.",
        permission_classes=[WRITE_EXCHANGES],
    )
    async def request_exchange(self, info: Info, input: RequestExchangeInput) -> Exchange:
        row = await exchange.request_exchange(
            info.context.db, info.context.directory, quote_id=str(input.quote_id),
            idempotency_key=access.scoped_key(info, input.idempotency_key),
            deadline=info.context.directory.timeout * 2, visible=info.context.visible,
        )  # fmt: skip
        return Exchange.from_row(row)

    @strawberry.mutation(permission_classes=[CREDIT_INBOUND])
    async def credit_inbound_exchange(
        self, info: Info, input: CreditInboundExchangeInput
    ) -> Exchange:
        partner_id = own_partner(info, input.partner_id)
        member_id = await _member_id(info, member_ref(input.member))
        row = await exchange.credit_inbound(
            info.context.db, partner_id=partner_id, member_id=member_id, units=input.units,
            reference=input.reference, visible=info.context.visible,
        )  # fmt: skip
        return Exchange.from_row(row)

    @strawberry.mutation(
        description="Receive member events (coupons, tiers, lifecycle, benefits) at a URL, "
        "HMAC-signed with the returned secret, like exchange webhooks.",
        permission_classes=[ADMIN],
    )
    async def subscribe_member_events(
        self, info: Info, input: SubscribeMemberEventsInput
    ) -> WebhookSubscription:
        row, secret = await webhook.subscribe(
            info.context.db, partner_id=None, url=input.url, events=input.events or None,
            egress=info.context.egress,
        )  # fmt: skip
        return WebhookSubscription.with_secret(row, secret)

    @strawberry.mutation(
        description="Receive exchange state changes at a URL, HMAC-signed with the returned "
        "secret.",
        permission_classes=[SUBSCRIBE],
    )
    async def subscribe_webhook(
        self, info: Info, input: SubscribeWebhookInput
    ) -> WebhookSubscription:
        row, secret = await webhook.subscribe(
            info.context.db, partner_id=own_partner(info, input.partner_id), url=input.url,
            egress=info.context.egress,
        )  # fmt: skip
        return WebhookSubscription.with_secret(row, secret)
