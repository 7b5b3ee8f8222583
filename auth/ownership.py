"""What a principal may see and act on, in one place: the SQL conditions (`visibility`) that
the domain's reads add to their statements and its writes check inside the transaction that
acts, and the rules for whom a call acts for and whose keys it uses.

A partner sees the members linked to it (an account identity in its program or a recorded
consent), the purchases, redemptions, exchanges and rewards that are its own; a member sees
itself; an operator with `admin` sees everything. Rows a principal may not see are answered
exactly like rows that do not exist (NOT_FOUND)."""

from __future__ import annotations

from functools import lru_cache
from typing import Any

from sqlalchemy import (
    ColumnElement,
    and_,
    exists,
    false,
    or_,
    select,
    true,
    union_all,
)
from sqlalchemy.ext.asyncio import AsyncConnection

from auth.acting import (
    ACTING_MEMBER,
    ACTING_PARTNER,
    is_admin,
    member_param,
    own_or_admin,
    partner_param,
)
from auth.principal import Principal, PrincipalKind, Scope
from auth.privacy import (
    birth_dates_visible,
    consents_visible,
    identities_nameable,
    identities_visible,
    purchases_readable,
)
from infra.models import (
    benefit_grants,
    campaigns,
    consents,
    coupon_templates,
    coupons,
    exchanges,
    identities,
    members,
    partners,
    purchases,
    quotes,
    rate_cards,
    redemptions,
    rewards,
    statements,
    transfers,
)
from loyalty.errors import NotFound, ValidationFailed
from loyalty.purchase import Channel
from loyalty.visibility import Visibility


def plan_shape(principal: Principal) -> tuple[object, ...]:
    """What the structure of a principal's conditions depends on (not its ids)."""
    return (principal.kind, principal.is_admin, principal.partner_id is None,
            principal.member_id is None)  # fmt: skip


def plan_parameters(principal: Principal) -> dict[str, int | None]:
    """The values of the caller's parameters in a statement planned for its shape."""
    return {ACTING_PARTNER: principal.partner_id, ACTING_MEMBER: principal.member_id}


def linked_to_partner(partner_id: Any, member_id: Any = members.c.id) -> ColumnElement[bool]:
    # One EXISTS, probed per member: an OR of two was a hash of all the partner's members.
    account = select(identities.c.member_id).where(
        identities.c.member_id == member_id, identities.c.kind == "PARTNER_ACCOUNT",
        identities.c.partner_id == partner_id,
    )  # fmt: skip
    consent = select(consents.c.member_id).where(
        consents.c.member_id == member_id, consents.c.partner_id == partner_id,
        consents.c.revoked_at.is_(None),
    )  # fmt: skip
    return exists(union_all(account, consent))


def members_visible(principal: Principal, member_id: Any = members.c.id) -> ColumnElement[bool]:
    if is_admin(principal):
        return true()
    if principal.kind is PrincipalKind.MEMBER and principal.member_id is not None:
        return and_(true(), member_id == member_param(principal))
    if principal.kind is PrincipalKind.PARTNER and principal.partner_id is not None:
        return linked_to_partner(partner_param(principal), member_id)
    return false()


def referees_visible(principal: Principal) -> ColumnElement[bool]:
    """A member sees the summaries (loyalty.referral.REFEREE_COLUMNS) of whom it referred (it
    can only reach its own referrals); others see the referees they could see anyway."""
    if principal.kind is PrincipalKind.MEMBER:
        return true()
    return members_visible(principal)


def _owned_by(principal: Principal, member_column: Any, partner_column: Any) -> ColumnElement[bool]:
    if is_admin(principal):
        return true()
    if principal.kind is PrincipalKind.MEMBER and principal.member_id is not None:
        return and_(true(), member_column == member_param(principal))
    if principal.kind is PrincipalKind.PARTNER and principal.partner_id is not None:
        return and_(true(), partner_column == partner_param(principal))
    return false()


def purchases_visible(principal: Principal) -> ColumnElement[bool]:
    return _owned_by(principal, purchases.c.member_id, purchases.c.partner_id)


def redemptions_visible(principal: Principal) -> ColumnElement[bool]:
    return _owned_by(principal, redemptions.c.member_id, redemptions.c.partner_id)


def rewards_visible(principal: Principal) -> ColumnElement[bool]:
    """The catalog is for members and operators; a partner sees the rewards it fulfils."""
    if principal.kind is PrincipalKind.PARTNER:
        return and_(true(), rewards.c.partner_id == partner_param(principal))
    if principal.kind is PrincipalKind.ANONYMOUS:
        return false()
    return true()


def partners_visible(principal: Principal) -> ColumnElement[bool]:
    if principal.kind is PrincipalKind.PARTNER:
        return and_(true(), partners.c.id == partner_param(principal))
    if principal.kind is PrincipalKind.ANONYMOUS:
        return false()
    return true()


def rate_cards_visible(principal: Principal) -> ColumnElement[bool]:
    """A partner's rate cards are its contract: operators with admin see every partner's, a
    partner's clients their own, nobody else any."""
    if principal.kind is PrincipalKind.PARTNER:
        return and_(true(), rate_cards.c.partner_id == partner_param(principal))
    return true() if is_admin(principal) else false()


def coupons_visible(principal: Principal) -> ColumnElement[bool]:
    """A member sees its own coupons; a partner the coupons of templates valid at it or that it
    funds; operators with admin every coupon; nobody else any."""
    if principal.kind is PrincipalKind.MEMBER:
        return and_(true(), coupons.c.member_id == member_param(principal))
    if principal.kind is PrincipalKind.PARTNER:
        partner = partner_param(principal)
        theirs = select(coupon_templates.c.id).where(
            or_(coupon_templates.c.partner_id == partner,
                coupon_templates.c.funded_by_partner_id == partner)
        )  # fmt: skip
        return coupons.c.template_id.in_(theirs)
    return true() if is_admin(principal) else false()


def promotions_run_by(principal: Principal, table: Any) -> ColumnElement[bool]:
    """Coupon templates and campaigns: operators with admin run every one, a partner's clients
    those the partner funds, nobody else any."""
    if principal.kind is PrincipalKind.PARTNER:
        return and_(true(), table.c.funded_by_partner_id == partner_param(principal))
    return true() if is_admin(principal) else false()


def campaigns_offered(principal: Principal) -> ColumnElement[bool]:
    """The campaigns a reader sees offered to a member: a member and operators with admin all
    that run (they are the program's offers); a partner's clients only those its partner funds,
    never another partner's (their budgets and codes are that partner's business)."""
    if principal.kind is PrincipalKind.MEMBER or is_admin(principal):
        return true()
    if principal.kind is PrincipalKind.PARTNER and principal.partner_id is not None:
        return and_(true(), campaigns.c.funded_by_partner_id == partner_param(principal))
    return false()


def templates_readable(principal: Principal) -> ColumnElement[bool]:
    """The coupon templates a reader sees behind a coupon or a campaign: a member and operators
    with admin any; a partner's clients those valid at it or that it funds (as its coupons)."""
    if principal.kind is PrincipalKind.MEMBER or is_admin(principal):
        return true()
    if principal.kind is PrincipalKind.PARTNER and principal.partner_id is not None:
        partner = partner_param(principal)
        return or_(coupon_templates.c.partner_id == partner,
                   coupon_templates.c.funded_by_partner_id == partner)  # fmt: skip
    return false()


def grants_visible(principal: Principal) -> ColumnElement[bool]:
    """A member's grants (gifts, coupon grants) are the member's own and operators' business: a
    birthday gift tells a birthday."""
    return own_or_admin(principal, benefit_grants.c.member_id)


def funding_partner(principal: Principal, funder: int | None, valid_at: int | None) -> int | None:
    """Who funds a new coupon template or campaign: a partner's client always its own partner,
    valid at it or anywhere (naming another partner is answered as if it did not exist); an
    operator whom it names (None: the program)."""
    if principal.kind is not PrincipalKind.PARTNER:
        return funder
    for named in (funder, valid_at):
        if named is not None and named != principal.partner_id:
            raise NotFound(f"partner {named} does not exist")
    return principal.partner_id


def campaign_funding(
    principal: Principal, funder: int | None, partner_ids: list[int] | None
) -> tuple[int | None, tuple[int, ...] | None]:
    """Who funds a new campaign and where it applies: a partner's client's campaign is funded by
    its partner and applies at it only (naming another is answered as if it did not exist); an
    operator's as named."""
    if principal.kind is not PrincipalKind.PARTNER:
        return funder, None if partner_ids is None else tuple(partner_ids)
    for named in partner_ids or []:
        funding_partner(principal, None, named)
    own = funding_partner(principal, funder, None)
    assert own is not None
    return own, (own,)


def aggregate_scopes(principal: Principal) -> tuple[ColumnElement[bool], ColumnElement[bool]]:
    """Which purchases and interactions a principal's aggregates (lifecycle, segment bands,
    spend) are computed over: a partner's over its own purchases only (not a shared member's
    spend at another partner) and no interactions; everyone else's over all of the member's."""
    if principal.kind is PrincipalKind.PARTNER:
        return purchases.c.partner_id == partner_param(principal), false()
    return true(), true()


def transfers_visible(principal: Principal) -> ColumnElement[bool]:
    """A partner sees only the transfers that concern it on a member's account."""
    if principal.kind is PrincipalKind.PARTNER:
        return and_(true(), transfers.c.partner_id == partner_param(principal))
    return true()


def statements_visible(principal: Principal) -> ColumnElement[bool]:
    """`statements_of(principal, None)` as a condition: an admin's all, a partner's own."""
    if principal.kind is PrincipalKind.MEMBER:
        return false()
    return _owned_by(principal, None, statements.c.partner_id)


async def may_know_member(conn: AsyncConnection, principal: Principal, member_id: int) -> bool:
    """Whether the principal may learn that this member exists (e.g. that it holds an identity
    the principal tried to enrol)."""
    found = await conn.scalar(
        select(members.c.id).where(members.c.id == member_id, members_visible(principal))
    )
    return found is not None


def key_namespace(principal: Principal) -> str:
    """Whose idempotency keys and order ids a caller's are: a partner's (any of its clients)
    or a member's own, so nobody can take or block another's; operators share the internal
    one. (Payment APIs scope keys to an account the same way.)"""
    if principal.kind is PrincipalKind.PARTNER:
        return f"p{principal.partner_id}"
    if principal.kind is PrincipalKind.MEMBER:
        return f"m{principal.member_id}"
    return ""


def scoped_key(principal: Principal, key: str) -> str:
    namespace = key_namespace(principal)
    return f"{namespace}:{key}" if namespace else key


def actor_key(principal: Principal) -> str:
    """Who acts, as stored on what they create and only they may use (a quote): a partner (any
    of its clients), a member, or an operator."""
    if principal.kind is PrincipalKind.PARTNER:
        return f"partner:{principal.partner_id}"
    if principal.kind is PrincipalKind.MEMBER:
        return f"member:{principal.member_id}"
    return f"{principal.kind.value.lower()}:{principal.subject}"


def quotes_usable(principal: Principal) -> ColumnElement[bool]:
    """A quote is carried out by whoever asked for it; an admin operator may carry out any."""
    if is_admin(principal):
        return true()
    return quotes.c.requested_by == actor_key(principal)


def exchanges_visible(principal: Principal) -> ColumnElement[bool]:
    return _owned_by(principal, exchanges.c.member_id, exchanges.c.partner_id)


def acting_partner(principal: Principal, named: int | None) -> int:
    """The partner a call acts for: a partner's client always its own (naming another is
    answered as if that partner did not exist); an operator must name one."""
    if principal.kind is PrincipalKind.PARTNER:
        assert principal.partner_id is not None
        if named is not None and named != principal.partner_id:
            raise NotFound(f"partner {named} does not exist")
        return principal.partner_id
    if named is None:
        raise ValidationFailed("name the partner", argument="partnerId")
    return named


def own_member(principal: Principal, named: int | None) -> int:
    """The member a member's call is about: always itself (naming another is answered as if
    that member did not exist)."""
    assert principal.member_id is not None
    if named is not None and named != principal.member_id:
        raise NotFound(f"member {named} does not exist")
    return principal.member_id


def statements_of(principal: Principal, named: int | None) -> int | None:
    """Whose statements a listing shows: an admin may ask for every partner's (None)."""
    if named is None and is_admin(principal):
        return None
    return acting_partner(principal, named)


def may_read_statement(principal: Principal, partner_id: int) -> bool:
    """A statement (and its downloads) is for operators and for its own partner's clients with
    settlements:read; anyone else is answered as if it did not exist."""
    return principal.is_admin or (
        principal.kind is PrincipalKind.PARTNER
        and principal.partner_id == partner_id
        and principal.has(Scope.SETTLEMENTS_READ)
    )


def may_manage_clients(principal: Principal) -> bool:
    """Registering a client for any partner, or widening a client's scopes, is an operator's
    act (a client may only narrow its own registration)."""
    return principal.is_admin


def may_run_integration(principal: Principal, partner_id: int) -> bool:
    """A partner's webhooks (subscriptions, deliveries, resending one) are its own business
    and operators'."""
    return principal.is_admin or (
        principal.kind is PrincipalKind.PARTNER and principal.partner_id == partner_id
    )


def client_scopes_for(principal: Principal, partner: Any) -> frozenset[str] | None:
    """The scopes `principal` may give the clients of `partner` it registers: an operator any
    but admin, the partner's own staff those an operator allowed it (partners.client_scopes);
    None: it may not see the partner's clients at all."""
    if principal.is_admin:
        return frozenset(scope.value for scope in Scope if scope is not Scope.ADMIN)
    if principal.kind is PrincipalKind.PARTNER and principal.partner_id == partner.id:
        return frozenset(partner.client_scopes.split())
    return None


def consenting_partner(principal: Principal) -> int | None:
    """The partner a member enrolled or linked through a partner's client is linked to."""
    return principal.partner_id if principal.kind is PrincipalKind.PARTNER else None


def acting_at(
    principal: Principal, channel: Channel, partner_id: int | None
) -> tuple[Channel, int | None]:
    """Where a purchase or redemption is booked: a partner's client always at its own partner,
    through the PARTNER channel (naming another partner is answered as if it did not exist);
    others where they say."""
    if principal.kind is not PrincipalKind.PARTNER:
        return channel, partner_id
    return Channel.PARTNER, acting_partner(principal, partner_id)


def visibility(principal: Principal) -> Visibility:
    """Everything above, for one principal, as the conditions the domain applies in the
    statements that read or act (loyalty.visibility). A member presenting its own card at a
    partner's till may be served there, linked or not: presenting it is its consent."""
    # Only what the conditions depend on is the cache's key: an operator's (or an anonymous
    # caller's) subject names its quotes; a partner's and a member's ids name theirs.
    named = principal.kind in (PrincipalKind.OPERATOR, PrincipalKind.ANONYMOUS)
    return _visibility(
        principal.kind, principal.is_admin, principal.partner_id, principal.member_id,
        principal.subject if named else "",
    )  # fmt: skip


@lru_cache(maxsize=4096)
def _visibility(
    kind: PrincipalKind, admin: bool, partner_id: int | None, member_id: int | None, subject: str
) -> Visibility:
    principal = Principal(
        kind=kind, subject=subject, scopes=frozenset({Scope.ADMIN.value} if admin else ()),
        partner_id=partner_id, member_id=member_id,
    )  # fmt: skip
    purchase_scope, interaction_scope = aggregate_scopes(principal)
    return Visibility(
        members=members_visible(principal),
        presented_members=true(),
        identities=identities_visible(principal),
        nameable_identities=identities_nameable(principal),
        referees=referees_visible(principal),
        purchases=purchases_visible(principal),
        readable_purchases=purchases_readable(principal, purchases_visible(principal)),
        redemptions=redemptions_visible(principal),
        rewards=rewards_visible(principal),
        partners=partners_visible(principal),
        exchanges=exchanges_visible(principal),
        quotes=quotes_usable(principal),
        rate_cards=rate_cards_visible(principal),
        coupons=coupons_visible(principal),
        coupon_templates=promotions_run_by(principal, coupon_templates),
        campaigns=promotions_run_by(principal, campaigns),
        offered_campaigns=campaigns_offered(principal),
        readable_templates=templates_readable(principal),
        benefit_grants=grants_visible(principal),
        aggregated_purchases=purchase_scope,
        aggregated_interactions=interaction_scope,
        transfers=transfers_visible(principal),
        birth_dates=birth_dates_visible(principal),
        data_consents=consents_visible(principal),
        statements=statements_visible(principal),
        entities=false() if kind is PrincipalKind.ANONYMOUS else true(),
    )
