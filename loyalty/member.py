"""Members and their cross-channel identities."""

from __future__ import annotations

from contextlib import suppress
from dataclasses import dataclass
from datetime import UTC, date, datetime
from enum import StrEnum
from operator import attrgetter
from typing import Any

import phonenumbers
from sqlalchemy import Select, insert, select, update
from sqlalchemy.ext.asyncio import AsyncConnection

from infra.database import Database, insert_unless_exists
from infra.models import accounts, consents, identities, members, partners
from infra.reads import keyed
from infra.records import IdentityRow, MemberRow
from loyalty import keys, ledger, referral, sealing
from loyalty.errors import IdentityTaken, NotFound, ValidationFailed
from loyalty.idempotency import earlier, request_hash, retry_on_race
from loyalty.membership import active_member
from loyalty.program import Program
from loyalty.promotions import benefit
from loyalty.segment import Measures, SegmentCriteria
from loyalty.visibility import Visibility


class IdentityKind(StrEnum):
    ONLINE_ACCOUNT = "ONLINE_ACCOUNT"
    LOYALTY_CARD = "LOYALTY_CARD"
    PHONE = "PHONE"
    EMAIL = "EMAIL"
    PARTNER_ACCOUNT = "PARTNER_ACCOUNT"


@dataclass(frozen=True, slots=True)
class IdentityRef:
    kind: IdentityKind
    value: str
    # The partner whose program a PARTNER_ACCOUNT identity is in (required for that kind).
    partner_id: int | None = None

    def link(self) -> tuple[IdentityKind, str, int | None]:
        """(kind, normalised value, partner) as stored."""
        if self.kind is IdentityKind.PARTNER_ACCOUNT and self.partner_id is None:
            raise ValidationFailed("a PARTNER_ACCOUNT identity names its partner")
        partner_id = self.partner_id if self.kind is IdentityKind.PARTNER_ACCOUNT else None
        return self.kind, normalize_identity(self.kind, self.value), partner_id


@dataclass(frozen=True, slots=True)
class MemberRef:
    """How a caller names a member: by id, or by one of its identities (a card at a POS)."""

    member_id: int | None = None
    identity: IdentityRef | None = None

    def __post_init__(self) -> None:
        if (self.member_id is None) == (self.identity is None):
            raise ValidationFailed("name the member by exactly one of id or identity")

    def fingerprint(self) -> object:
        if self.identity is not None:
            return [self.identity.kind, normalize_identity(self.identity.kind, self.identity.value)]
        return self.member_id


# How phone numbers without a country code are read: the program's `phone_region`, set once at
# start-up (use_phone_region, from gateway.app.create_app), so every path reads them alike.
_phone_region = [Program().phone_region]


def use_phone_region(region: str) -> None:
    _phone_region[0] = region


def normalize_identity(kind: IdentityKind, value: str) -> str:
    """One spelling per identity, so '+1 (555) 777-0001' typed at a POS finds '15557770001'
    linked online (README "Identities"): phones in E.164, emails and card numbers in one case;
    online accounts and partner accounts are the issuer's own spelling, trimmed."""
    value = value.strip()
    if kind is IdentityKind.PHONE:
        value = _e164(value)
    elif kind is IdentityKind.EMAIL:
        value = value.lower()
        if "@" not in value[1:-1]:
            raise ValidationFailed("an email address needs a local part and a domain")
    elif kind is IdentityKind.LOYALTY_CARD:
        value = value.upper()
    if not value or len(value) > 255:
        raise ValidationFailed("an identity value has 1 to 255 characters")
    return value


def _e164(value: str) -> str:
    try:
        number = phonenumbers.parse(value, _phone_region[0])
    except phonenumbers.NumberParseException:
        raise ValidationFailed("not a phone number") from None
    if not phonenumbers.is_possible_number(number):
        raise ValidationFailed("not a phone number of a possible length")
    return phonenumbers.format_number(number, phonenumbers.PhoneNumberFormat.E164)


async def enroll(
    db: Database,
    *,
    display_name: str,
    idempotency_key: str,
    identities_to_link: list[IdentityRef] | None = None,
    referral_code: str | None = None,
    consent_partner_id: int | None = None,
    program: Program | None = None,
    now: datetime | None = None,
) -> MemberRow:
    """Enroll a member with its ledger account, referral code and first identities, all or
    nothing; with another member's referral code, that member gets its referral bonus. Enrolled
    through a partner (`consent_partner_id`), the member consents to that partner seeing it.
    The same key with the same input answers with the same member."""
    program = program or Program()
    display_name = display_name.strip()
    if not display_name or len(display_name) > 200:
        raise ValidationFailed("a display name has 1 to 200 characters")
    links = [ref.link() for ref in identities_to_link or []]
    code = referral.normalize_code(referral_code) if referral_code else None
    fingerprint = request_hash(
        display_name=display_name, identities=sorted(links, key=str), referral_code=code,
        partner=consent_partner_id,
    )  # fmt: skip
    now = now or datetime.now(UTC)

    async def attempt() -> Any:
        async with db.transaction() as conn:
            referrer = await referral.referrer_by_code(conn, code) if code else None
            enrolled = await keys.holder(conn, keys.enrollment(idempotency_key))
            if enrolled is not None:
                return await earlier(conn, members, fingerprint, idempotency_key, id=enrolled)
            row = (await conn.execute(insert(members).values(
                display_name=display_name, enrolled_at=now, enrollment_key=idempotency_key,
                request_hash=fingerprint, referral_code=referral.new_code(),
            ).returning(*members.c))).one()  # fmt: skip
            # Both free, else the transaction rolls back and runs again (a concurrent
            # enrollment with this key, or a referral code drawn twice).
            await keys.take(conn, keys.enrollment(idempotency_key), row.id)
            await keys.take(conn, keys.referral(row.referral_code), row.id)
            return await _set_up(conn, program, row, links, referrer, consent_partner_id, now)

    return await retry_on_race(attempt)


async def _set_up(
    conn: AsyncConnection,
    program: Program,
    row: Any,
    links: list[tuple[IdentityKind, str, int | None]],
    referrer: Any,
    consent_partner_id: int | None,
    now: datetime,
) -> Any:
    """A new member's account, identities, consent, welcome offers and referral; returns the
    member."""
    await conn.execute(insert(accounts).values(id=ledger.member_account(row.id), member_id=row.id))
    if referrer is not None:
        await referral.check_not_self(conn, referrer.id, [(k, v) for k, v, _ in links])
    for kind, value, partner_id in links:
        await _link(conn, row.id, kind, value, partner_id, now)
    if consent_partner_id is not None:
        await conn.execute(
            insert(consents).values(member_id=row.id, partner_id=consent_partner_id, granted_at=now)
        )
    await benefit.on_enrolment(conn, program, member_id=row.id, at=now)
    if referrer is None:
        return row
    await referral.link_referral(conn, program, referee_id=row.id, referrer_id=referrer.id, now=now)
    return (await conn.execute(select(members).where(members.c.id == row.id))).one()


async def set_birth_date(
    db: Database,
    *,
    member_id: int,
    birth_date: date | None,
    visible: Visibility,
    today: date | None = None,
) -> MemberRow:
    """Set (or clear, with None) the member's birth date: a day between 1900 and today."""
    today = today or datetime.now(UTC).date()
    if birth_date is not None and not date(1900, 1, 1) <= birth_date <= today:
        raise ValidationFailed("a birth date is between 1900 and today", argument="birthDate")
    async with db.transaction() as conn:
        await active_member(conn, member_id, visible.members)
        return (await conn.execute(
            update(members).where(members.c.id == member_id).values(birth_date=birth_date)
            .returning(*members.c)
        )).one()  # fmt: skip


async def link_identity(
    db: Database,
    *,
    member_id: int,
    kind: IdentityKind,
    value: str,
    partner_id: int | None = None,
    visible: Visibility,
    now: datetime | None = None,
) -> IdentityRow:
    """Link an identity to a member. Linking it again to the same member is a no-op that answers
    the same; an identity already linked to another member is IDENTITY_TAKEN."""
    kind, value, partner_id = IdentityRef(kind, value, partner_id).link()

    async def attempt() -> Any:
        async with db.transaction() as conn:
            await active_member(conn, member_id, visible.members)
            return await _link(conn, member_id, kind, value, partner_id, now or datetime.now(UTC))

    return await retry_on_race(attempt)


async def _link(
    conn: AsyncConnection,
    member_id: int,
    kind: IdentityKind,
    value: str,
    partner_id: int | None,
    now: datetime,
) -> Any:
    if partner_id is not None and await conn.scalar(
        select(partners.c.id).where(partners.c.id == partner_id)
    ) is None:  # fmt: skip
        raise NotFound(f"partner {partner_id} does not exist")
    columns = sealing.stored(kind, value)
    stored_as = sealing.lookups(kind, value)
    if len(set(stored_as)) > 1 and (held := await _held_before(conn, member_id, kind, stored_as)):
        return held
    holder = await keys.claim(conn, keys.identity(kind, columns["value"]), member_id)
    if holder != member_id:
        raise IdentityTaken(
            f"this {kind} identity belongs to another member", kind=kind, holder_id=holder
        )
    row = await insert_unless_exists(
        conn,
        identities,
        {"member_id": member_id, "kind": kind, **columns, "partner_id": partner_id,
         "linked_at": now},
    )  # fmt: skip
    if row is not None:
        return row
    return (await conn.execute(select(identities).where(
        identities.c.member_id == member_id, identities.c.kind == kind,
        identities.c.value == columns["value"],
    ))).one()  # fmt: skip


async def _held_before(
    conn: AsyncConnection, member_id: int, kind: IdentityKind, stored_as: list[str]
) -> Any:
    """While a rotated data key is not yet re-keyed (loyalty.sealing), an identity may be held
    under an older key's hash: the member's own row then, IDENTITY_TAKEN for another's."""
    for older in stored_as[1:]:
        holder = await keys.holder(conn, keys.identity(kind, older))
        if holder is not None and holder != member_id:
            raise IdentityTaken(
                f"this {kind} identity belongs to another member", kind=kind, holder_id=holder
            )
    return (await conn.execute(select(identities).where(
        identities.c.member_id == member_id, identities.c.kind == kind,
        identities.c.value.in_(stored_as),
    ))).first()  # fmt: skip


async def resolve(
    conn: AsyncConnection,
    ref: MemberRef,
    visible: Visibility,
    *,
    presented: bool = False,
) -> MemberRow:
    """The active member a reference names and the caller may act on, or NOT_FOUND. A member
    named by an identity the caller may not see, or that the caller may not see, is answered
    exactly as an identity nobody holds (no oracle of who is enrolled). A loyalty card its
    holder `presented` (shown at a till) is the holder's consent: `visible.presented_members`
    decides instead of `visible.members`; an e-mail, phone or account is no such consent."""
    if ref.member_id is not None:
        return await active_member(conn, ref.member_id, visible.members)
    assert ref.identity is not None
    kind = ref.identity.kind
    value = normalize_identity(kind, ref.identity.value)
    member_id = await conn.scalar(identity_holder(kind, sealing.lookups(kind, value), visible))
    card = presented and kind == IdentityKind.LOYALTY_CARD
    condition = visible.presented_members if card else visible.members
    if member_id is not None:
        with suppress(NotFound):  # hidden from the caller: answered as nobody below
            return await active_member(conn, member_id, condition)
    raise NotFound(f"no member has this {kind} identity")


def identity_holder(kind: Any, stored: list[Any], visible: Visibility) -> Select[Any]:
    """The member holding an identity stored as one of `stored` (loyalty.sealing.lookups of
    the normalised value), if the caller may name a member by it: the rule find_by_identity,
    resolve and the compiled `memberByIdentity` read."""
    held = select(identities.c.member_id).where(
        identities.c.kind == kind, identities.c.value.in_(stored), visible.nameable_identities
    )
    return held.order_by(identities.c.member_id).limit(1)


async def find_by_identity(
    db: Database, kind: IdentityKind, value: str, visible: Visibility
) -> int | None:
    """The id of the member holding this identity, if the caller may see the identity."""
    async with db.read() as conn:
        held = identity_holder(kind, sealing.lookups(kind, normalize_identity(kind, value)),
                               visible)  # fmt: skip
        member_id: int | None = await conn.scalar(held)
        return member_id


async def list_members(
    db: Database,
    program: Program,
    *,
    limit: int,
    after_id: int | None = None,
    tier: str | None = None,
    enrolled_from: datetime | None = None,
    enrolled_before: datetime | None = None,
    identity_kind: IdentityKind | None = None,
    segment: SegmentCriteria | None = None,
    visible: Visibility,
    now: datetime | None = None,
) -> list[MemberRow]:
    """The members the caller may see, in id order after `after_id`, filtered in SQL (lifecycle
    and segment too, over the purchases and interactions the caller's aggregates count)."""
    query = select(members).where(visible.members).order_by(members.c.id).limit(limit)
    if segment is not None:
        measures = Measures(
            program, now or datetime.now(UTC), visible.aggregated_purchases,
            visible.aggregated_interactions,
        )  # fmt: skip
        query = measures.filter(query, segment)
    if after_id is not None:
        query = query.where(members.c.id > after_id)
    if tier is not None:
        query = query.where(members.c.tier == tier)
    if enrolled_from is not None:
        query = query.where(members.c.enrolled_at >= enrolled_from)
    if enrolled_before is not None:
        query = query.where(members.c.enrolled_at < enrolled_before)
    if identity_kind is not None:
        query = query.where(
            select(identities.c.id)
            .where(identities.c.member_id == members.c.id, identities.c.kind == identity_kind)
            .exists()
        )
    async with db.read() as conn:
        return list(await conn.execute(query))


# What a member's record shows (the keys of its enrolment stay inside).
MEMBER_COLUMNS = tuple(
    c for c in members.c if c.name not in ("enrollment_key", "request_hash", "tier_reviewed_at")
)


members_by_id = keyed(MEMBER_COLUMNS, members.c.id, visible=attrgetter("members"))

# The members' birth dates the caller may see (the others load as missing).
birth_dates_of = keyed((members.c.id, members.c.birth_date), members.c.id,
                       visible=attrgetter("birth_dates"))  # fmt: skip

# The members' identities in the order they were linked.
identities_of = keyed(
    (identities.c.member_id, identities.c.kind, identities.c.value, identities.c.sealed,
     identities.c.partner_id, identities.c.linked_at),
    identities.c.member_id, visible=attrgetter("identities"), order_by=(identities.c.id,),
)  # fmt: skip
