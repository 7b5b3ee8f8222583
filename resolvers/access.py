"""Ownership checks the mutations run before acting, built on `auth.ownership`: the one place
that says which members, purchases and redemptions a principal may act on."""

from __future__ import annotations

from typing import Any

from auth import ownership
from auth.principal import Principal
from infra.errors import DomainError, IdentityTaken, NotFound, ValidationFailed
from loyalty.member import MemberRef, find_by_identity
from loyalty.purchase import Channel
from schema.info import Info


def principal(info: Info) -> Principal:
    return info.context.principal


async def require_member(info: Info, ref: MemberRef) -> None:
    """The caller may act on this member (NOT_FOUND otherwise, as if it did not exist)."""
    caller = principal(info)
    member_id = ref.member_id
    if member_id is None:
        assert ref.identity is not None
        member_id = await find_by_identity(info.context.db, ref.identity.kind, ref.identity.value)
        if member_id is None:
            raise NotFound("no member has this identity")
    async with info.context.db.read() as conn:
        await ownership.check_member(conn, caller, member_id)


async def require_row(info: Info, table: Any, row_id: int, visible: Any) -> None:
    async with info.context.db.read() as conn:
        await ownership.check_row(conn, table, row_id, visible)


def acting_partner(
    info: Info, channel: Channel, partner_id: int | None
) -> tuple[Channel, int | None]:
    return ownership.acting_at(principal(info), channel, partner_id)


def consenting_partner(info: Info) -> int | None:
    return ownership.consenting_partner(principal(info))


def purchases_visible(info: Info) -> Any:
    return ownership.purchases_visible(principal(info))


def redemptions_visible(info: Info) -> Any:
    return ownership.redemptions_visible(principal(info))


def rewards_visible(info: Info) -> Any:
    return ownership.rewards_visible(principal(info))


MAX_KEY_LENGTH = 200


def scoped_key(info: Info, key: str) -> str:
    """The caller's idempotency key (1 to 200 characters, not blank) in the caller's namespace
    (see auth.ownership)."""
    if not key.strip() or len(key) > MAX_KEY_LENGTH:
        raise ValidationFailed(
            f"an idempotency key has 1 to {MAX_KEY_LENGTH} characters", argument="idempotencyKey"
        )
    return ownership.scoped_key(principal(info), key)


def key_namespace(info: Info) -> str:
    return ownership.key_namespace(principal(info))


async def answer_identity_taken(info: Info, taken: IdentityTaken) -> DomainError:
    """IDENTITY_TAKEN only for callers who may see the holder; anyone else gets a refusal that
    does not say the identity is enrolled (so cards and emails cannot be tested for
    membership through enrolment)."""
    async with info.context.db.read() as conn:
        if await ownership.may_know_member(conn, principal(info), taken.holder_id):
            return taken
    return ValidationFailed(
        "this identity cannot be enrolled or linked by this client", argument="identities"
    )
