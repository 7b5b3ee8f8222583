"""Mutations of members: enrolment, identities, interactions, referrals and merges."""

from __future__ import annotations

from typing import Any

import strawberry

from loyalty import consent, erasure, interaction, member, merge, referral
from loyalty.consent import ConsentPurpose
from loyalty.errors import IdentityTaken
from loyalty.member import IdentityKind
from partners import exchange
from resolvers import access
from resolvers.convert import identity_ref, member_ref
from schema.info import Info
from schema.inputs import (
    ApplyReferralCodeInput,
    ConsentInput,
    EnrollMemberInput,
    LinkIdentityInput,
    MergeMembersInput,
    RecordInteractionInput,
    SetBirthDateInput,
)
from schema.pagination import parse_id
from schema.permissions import ADMIN, MEMBER_ONLY, MEMBER_OR_ADMIN, WRITE_MEMBERS
from schema.privacy import Consent
from schema.types import Identity, Interaction, Member


@strawberry.type
class MemberMutations:
    @strawberry.mutation(permission_classes=[WRITE_MEMBERS])
    async def enroll_member(self, info: Info, input: EnrollMemberInput) -> Member:
        partner_id = access.consenting_partner(info)
        try:
            row = await member.enroll(
                info.context.db,
                display_name=input.display_name,
                idempotency_key=access.scoped_key(info, input.idempotency_key),
                identities_to_link=[identity_ref(i, partner_id) for i in input.identities],
                referral_code=input.referral_code,
                consent_partner_id=partner_id,
                program=info.context.program,
            )
        except IdentityTaken as taken:
            raise await access.answer_identity_taken(info, taken) from None
        return Member.from_row(row)

    @strawberry.mutation(
        description="Set or clear a birth date: a member its own, or an operator.",
        permission_classes=[MEMBER_OR_ADMIN],
    )
    async def set_birth_date(self, info: Info, input: SetBirthDateInput) -> Member:
        row = await member.set_birth_date(
            info.context.db, member_id=parse_id(input.member_id), birth_date=input.birth_date,
            visible=info.context.visible,
        )  # fmt: skip
        return Member.from_row(row)

    @strawberry.mutation(permission_classes=[WRITE_MEMBERS])
    async def link_identity(self, info: Info, input: LinkIdentityInput) -> Identity:
        member_id = parse_id(input.member_id)
        identity = identity_ref(input.identity, access.consenting_partner(info))
        if identity.kind is IdentityKind.PARTNER_ACCOUNT and identity.partner_id is not None:
            await exchange.confirm_account(
                info.context.db, info.context.directory, partner_id=identity.partner_id,
                account=identity.value, deadline=info.context.directory.timeout,
            )  # fmt: skip
        try:
            row = await member.link_identity(
                info.context.db,
                member_id=member_id,
                kind=identity.kind,
                value=identity.value,
                partner_id=identity.partner_id,
                visible=info.context.visible,
            )
        except IdentityTaken as taken:
            raise await access.answer_identity_taken(info, taken) from None
        return Identity.from_row(row)

    @strawberry.mutation(
        description="Growth value for a review, check-in, event or survey.",
        permission_classes=[WRITE_MEMBERS],
    )
    async def record_interaction(self, info: Info, input: RecordInteractionInput) -> Interaction:
        row = await interaction.record_interaction(
            info.context.db,
            info.context.program,
            member_ref=member_ref(input.member),
            kind=interaction.InteractionKind(input.kind),
            idempotency_key=access.scoped_key(info, input.idempotency_key),
            occurred_at=input.occurred_at,
            visible=info.context.visible,
        )
        return Interaction.from_row(row)

    @strawberry.mutation(
        description="A recently enrolled member enters a referral code.",
        permission_classes=[MEMBER_OR_ADMIN],
    )
    async def apply_referral_code(self, info: Info, input: ApplyReferralCodeInput) -> Member:
        row = await referral.claim_referral(
            info.context.db,
            info.context.program,
            member_id=parse_id(input.member_id),
            code=input.referral_code,
            visible=info.context.visible,
        )
        return Member.from_row(row)

    @strawberry.mutation(
        description="Merge two records of one person; returns the survivor.",
        permission_classes=[ADMIN],
    )
    async def merge_members(self, info: Info, input: MergeMembersInput) -> Member:
        row = await merge.merge_members(
            info.context.db,
            info.context.program,
            survivor_id=parse_id(input.survivor_id),
            merged_id=parse_id(input.merged_id),
        )
        return Member.from_row(row)

    @strawberry.mutation(
        description="Erase a member's personal data for good on its request, keeping its books "
        "(docs/privacy.md); erasing it again answers it as it is.",
        permission_classes=[ADMIN],
    )
    async def erase_member(self, info: Info, member_id: strawberry.ID) -> Member:
        row = await erasure.erase_member(info.context.db, parse_id(member_id))
        return Member.from_row(row)

    @strawberry.mutation(
        description="The calling member consents to a partner seeing more of it for a purpose "
        "(docs/privacy.md); already in force, the consent as it is.",
        permission_classes=[MEMBER_ONLY],
    )
    async def grant_consent(self, info: Info, input: ConsentInput) -> Consent:
        row = await consent.grant(info.context.db, **_consent_of(info, input),
                                  visible=info.context.visible)  # fmt: skip
        return Consent.from_row(row)

    @strawberry.mutation(
        description="The calling member withdraws a consent, from this commit on; null when "
        "none was in force.",
        permission_classes=[MEMBER_ONLY],
    )
    async def withdraw_consent(self, info: Info, input: ConsentInput) -> Consent | None:
        row = await consent.withdraw(info.context.db, **_consent_of(info, input),
                                     visible=info.context.visible)  # fmt: skip
        return None if row is None else Consent.from_row(row)


def _consent_of(info: Info, input: ConsentInput) -> dict[str, Any]:
    """Whose consent (the calling member's), to which partner, for what."""
    return {"member_id": access.calling_member(info), "partner_id": parse_id(input.partner_id),
            "purpose": ConsentPurpose(input.purpose)}  # fmt: skip
