"""Object types. Plain fields are plain attributes (no per-field wrappers); every related object
is loaded through the request's dataloaders, reached via `info.context.loaders`."""

from __future__ import annotations

from datetime import datetime
from decimal import Decimal
from typing import Any

import strawberry

from loyalty.errors import NotFound
from schema.enums import Channel, IdentityKind, MemberStatus, RedemptionStatus, Tier, TransferPhase
from schema.info import Info
from schema.pagination import Connection, build_connection, check_page_size, decode_cursor


def parse_id(value: strawberry.ID | str) -> int:
    """Database id from a GraphQL ID; a malformed id is answered like a missing one."""
    try:
        parsed = int(value)
    except (TypeError, ValueError):
        raise NotFound("no such object") from None
    if parsed <= 0 or parsed >= 2**63:
        raise NotFound("no such object")
    return parsed


def money(value: Decimal, exponent: int) -> Decimal:
    return value.quantize(Decimal(1).scaleb(-exponent))


@strawberry.type
class Identity:
    kind: IdentityKind
    value: str
    linked_at: datetime

    @staticmethod
    def from_row(row: Any) -> Identity:
        return Identity(kind=IdentityKind(row.kind), value=row.value, linked_at=row.linked_at)


@strawberry.type(description="A member's points. available = posted - pending.")
class Balance:
    posted: int = strawberry.field(description="Points of posted transfers, in minus out.")
    pending: int = strawberry.field(description="Points held by pending transfers out.")
    available: int = strawberry.field(description="Points the member can spend now.")
    incoming: int = strawberry.field(description="Points of pending transfers in.")


@strawberry.type
class LedgerEntry:
    transfer_id: strawberry.ID
    points: int = strawberry.field(description="Effect on this account: positive adds points.")
    phase: TransferPhase
    reason: str
    reference: str | None
    counterparty: str = strawberry.field(description="The other account of the transfer.")
    created_at: datetime

    @staticmethod
    def from_row(row: Any) -> LedgerEntry:
        return LedgerEntry(
            transfer_id=strawberry.ID(str(row.id)),
            points=row.points,
            phase=TransferPhase(row.phase),
            reason=row.reason,
            reference=row.reference,
            counterparty=row.counterparty,
            created_at=row.created_at,
        )


@strawberry.federation.type(keys=["id"])
class Partner:
    id: strawberry.ID
    code: str
    name: str
    status: str

    @staticmethod
    def from_row(row: Any) -> Partner:
        return Partner(
            id=strawberry.ID(str(row.id)), code=row.code, name=row.name, status=row.status
        )

    @classmethod
    async def resolve_reference(cls, info: Info, id: strawberry.ID) -> Partner | None:
        row = await info.context.loaders.partner_by_id.load(parse_id(id))
        return None if row is None else cls.from_row(row)


async def _partner(info: Info, partner_id: int | None) -> Partner | None:
    if partner_id is None:
        return None
    row = await info.context.loaders.partner_by_id.load(partner_id)
    return None if row is None else Partner.from_row(row)


async def _member(info: Info, member_id: int) -> Member:
    row = await info.context.loaders.member_by_id.load(member_id)
    return Member.from_row(row)


@strawberry.federation.type(keys=["id"])
class Purchase:
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
    member_id: strawberry.Private[int]
    partner_id: strawberry.Private[int | None]

    @staticmethod
    def from_row(row: Any, exponent: int) -> Purchase:
        return Purchase(
            id=strawberry.ID(str(row.id)),
            channel=Channel(row.channel),
            source=row.source,
            external_order_id=row.external_order_id,
            amount=money(row.amount, exponent),
            currency=row.currency,
            points_earned=row.points_earned,
            refunded_amount=money(row.refunded_amount, exponent),
            points_reversed=row.points_reversed,
            purchased_at=row.purchased_at,
            recorded_at=row.recorded_at,
            member_id=row.member_id,
            partner_id=row.partner_id,
        )

    @strawberry.field
    async def member(self, info: Info) -> Member:
        return await _member(info, self.member_id)

    @strawberry.field
    async def partner(self, info: Info) -> Partner | None:
        return await _partner(info, self.partner_id)

    @classmethod
    async def resolve_reference(cls, info: Info, id: strawberry.ID) -> Purchase | None:
        row = await info.context.loaders.purchase_by_id.load(parse_id(id))
        if row is None:
            return None
        return cls.from_row(row, info.context.program.currency_exponent)


@strawberry.type
class Refund:
    id: strawberry.ID
    amount: Decimal
    points_reversed: int
    points_unrecovered: int = strawberry.field(
        description="Points due back that the member had already spent beyond the allowed limit."
    )
    created_at: datetime
    purchase_id: strawberry.Private[int]

    @staticmethod
    def from_row(row: Any, exponent: int) -> Refund:
        return Refund(
            id=strawberry.ID(str(row.id)),
            amount=money(row.amount, exponent),
            points_reversed=row.points_reversed,
            points_unrecovered=row.points_unrecovered,
            created_at=row.created_at,
            purchase_id=row.purchase_id,
        )

    @strawberry.field
    async def purchase(self, info: Info) -> Purchase:
        row = await info.context.loaders.purchase_by_id.load(self.purchase_id)
        return Purchase.from_row(row, info.context.program.currency_exponent)


@strawberry.type
class Redemption:
    id: strawberry.ID
    points: int
    channel: Channel
    reference: str | None
    status: RedemptionStatus
    created_at: datetime
    cancelled_at: datetime | None
    member_id: strawberry.Private[int]
    partner_id: strawberry.Private[int | None]

    @staticmethod
    def from_row(row: Any) -> Redemption:
        return Redemption(
            id=strawberry.ID(str(row.id)),
            points=row.points,
            channel=Channel(row.channel),
            reference=row.reference,
            status=RedemptionStatus(row.status),
            created_at=row.created_at,
            cancelled_at=row.cancelled_at,
            member_id=row.member_id,
            partner_id=row.partner_id,
        )

    @strawberry.field
    async def member(self, info: Info) -> Member:
        return await _member(info, self.member_id)

    @strawberry.field
    async def partner(self, info: Info) -> Partner | None:
        return await _partner(info, self.partner_id)


@strawberry.federation.type(keys=["id"])
class Member:
    id: strawberry.ID
    display_name: str
    tier: Tier
    status: MemberStatus
    enrolled_at: datetime

    @staticmethod
    def from_row(row: Any) -> Member:
        return Member(
            id=strawberry.ID(str(row.id)),
            display_name=row.display_name,
            tier=Tier(row.tier),
            status=MemberStatus(row.status),
            enrolled_at=row.enrolled_at,
        )

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
        return build_connection(rows, first, "purchase", lambda r: Purchase.from_row(r, exponent))

    @strawberry.field(description="The member account's transfers, newest first.")
    async def ledger(
        self, info: Info, first: int = 20, after: str | None = None
    ) -> Connection[LedgerEntry]:
        check_page_size(first)
        key = (int(self.id), first, decode_cursor("entry", after))
        rows = await info.context.loaders.ledger_entries_by_member.load(key)
        return build_connection(rows, first, "entry", LedgerEntry.from_row)
