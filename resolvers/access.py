"""What the mutations ask `auth.ownership` (the one policy) about the request's principal: whom
a call acts for, whose idempotency keys it uses, and what an IDENTITY_TAKEN may say. What the
principal may act on is `info.context.visible`, which the domain checks inside the transaction
that acts."""

from __future__ import annotations

from auth import ownership
from auth.principal import Principal
from loyalty.errors import DomainError, IdentityTaken, Unauthenticated, ValidationFailed
from loyalty.purchase import Channel
from schema.info import Info


def principal(info: Info) -> Principal:
    return info.context.principal


def acting_partner(
    info: Info, channel: Channel, partner_id: int | None
) -> tuple[Channel, int | None]:
    return ownership.acting_at(principal(info), channel, partner_id)


def consenting_partner(info: Info) -> int | None:
    return ownership.consenting_partner(principal(info))


def calling_member(info: Info) -> int:
    """The member a member's token is (MEMBER_ONLY fields: `me` and its consents)."""
    member_id = principal(info).member_id
    if member_id is None:
        raise Unauthenticated("this needs a member's credentials")
    return member_id


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
