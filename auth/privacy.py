"""What a principal may see of a member's personal data (docs/privacy.md), as conditions of the
ownership policy (auth.ownership.visibility): a partner the member is linked to sees its own
account identity; the member's e-mail and phone and its birth date only with the member's
consent for that purpose (loyalty.consent), read in the same statement as the data, so a
withdrawal holds from its commit on, on both read paths, in `_entities` and exports alike."""

from __future__ import annotations

from sqlalchemy import ColumnElement, and_, or_, true

from auth.acting import is_admin, own_or_admin, partner_param
from auth.principal import Principal, PrincipalKind
from infra.models import data_consents, identities, members, purchases
from loyalty.consent import ConsentPurpose, consented
from loyalty.member import IdentityKind

CONTACT_KINDS = (IdentityKind.EMAIL.value, IdentityKind.PHONE.value)


def identities_visible(principal: Principal) -> ColumnElement[bool]:
    """A partner sees its own account identity (never which other programs a member is in),
    and the member's e-mail and phone with its CONTACT consent; cards and online accounts
    are not a partner's to see."""
    if principal.kind is not PrincipalKind.PARTNER:
        return true()
    partner = partner_param(principal)
    own_account = and_(identities.c.kind == IdentityKind.PARTNER_ACCOUNT.value,
                       identities.c.partner_id == partner)  # fmt: skip
    # Equalities, not IN: a planned statement takes no expanding parameter.
    contact = and_(or_(*(identities.c.kind == kind for kind in CONTACT_KINDS)),
                   consented(partner, ConsentPurpose.CONTACT, identities.c.member_id))  # fmt: skip
    return or_(own_account, contact)


def identities_nameable(principal: Principal) -> ColumnElement[bool]:
    """The identities a caller may name a member by (memberByIdentity, a purchase's member):
    those it may see, and for a partner the program's loyalty card as well, which a member
    shows at its till (the member must still be one the partner may see or serve)."""
    if principal.kind is not PrincipalKind.PARTNER:
        return true()
    return or_(identities_visible(principal),
               identities.c.kind == IdentityKind.LOYALTY_CARD.value)  # fmt: skip


def birth_dates_visible(principal: Principal) -> ColumnElement[bool]:
    """A birth date: the member's own, operators' with admin, a partner's with the member's
    BIRTH_DATE consent (as a condition on members rows)."""
    if principal.kind is PrincipalKind.PARTNER:
        return consented(partner_param(principal), ConsentPurpose.BIRTH_DATE, members.c.id)
    return own_or_admin(principal, members.c.id)


def purchases_readable(principal: Principal, own: ColumnElement[bool]) -> ColumnElement[bool]:
    """The purchases a caller may read: those it may act on (`own`, the policy's), and for a
    partner also the member's purchases elsewhere with its PURCHASES consent."""
    if principal.kind is not PrincipalKind.PARTNER:
        return own
    shared = consented(partner_param(principal), ConsentPurpose.PURCHASES, purchases.c.member_id)
    return or_(own, shared)


def consents_visible(principal: Principal) -> ColumnElement[bool]:
    """The consents themselves: the member's own, operators', and a partner those given to it."""
    if principal.kind is PrincipalKind.PARTNER:
        return data_consents.c.partner_id == partner_param(principal)
    return own_or_admin(principal, data_consents.c.member_id)


def may_export(principal: Principal, member_id: int) -> bool:
    """A member's copy of its data: for the member itself, or an operator with admin on its
    behalf; never a partner."""
    if principal.kind is PrincipalKind.MEMBER:
        return principal.member_id == member_id
    return is_admin(principal)


def reads_recorded(principal: Principal) -> bool:
    """Whether the members the caller's answers hold are counted as read (loyalty.data_reads):
    a partner's clients' reads, which a member's export shows."""
    return principal.kind is PrincipalKind.PARTNER and principal.partner_id is not None
