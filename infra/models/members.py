"""Members, their identities and consents, their interactions and tier history."""

from __future__ import annotations

from sqlalchemy import (
    BigInteger,
    Column,
    ForeignKey,
    Index,
    String,
    Table,
    UniqueConstraint,
)

from infra.models.base import KEY_LENGTH, metadata
from infra.types import Id, UtcDateTime

members = Table(
    "members",
    metadata,
    Column("id", Id, primary_key=True, autoincrement=True),
    Column("display_name", String(200), nullable=False),
    Column("tier", String(16), nullable=False, server_default="SILVER"),
    Column("status", String(16), nullable=False, server_default="ACTIVE"),
    Column("enrolled_at", UtcDateTime, nullable=False),
    # The enrollment's idempotency key and a hash of its input, to answer replays.
    Column("enrollment_key", String(KEY_LENGTH), nullable=True, unique=True),
    Column("request_hash", String(64), nullable=True),
    Column("referral_code", String(16), nullable=True, unique=True),
    Column("referred_by", Id, ForeignKey("members.id"), nullable=True, index=True),
    Column("referred_at", UtcDateTime, nullable=True),
    # The last membership anniversary at which the tier was re-evaluated.
    Column("tier_reviewed_at", UtcDateTime, nullable=True),
    # A merged member is a tombstone pointing at the member that absorbed it.
    Column("merged_into", Id, ForeignKey("members.id"), nullable=True),
    Column("merged_at", UtcDateTime, nullable=True),
)

Index("ix_members_tier_id", members.c.tier, members.c.id)

# Growth value from interactions (a review, a check-in, ...), once per idempotency key.
interactions = Table(
    "interactions",
    metadata,
    Column("id", Id, primary_key=True, autoincrement=True),
    Column("member_id", Id, ForeignKey("members.id"), nullable=False),
    Column("kind", String(16), nullable=False),
    Column("idempotency_key", String(KEY_LENGTH), nullable=False, unique=True),
    Column("growth_value", BigInteger, nullable=False),
    Column("occurred_at", UtcDateTime, nullable=False),
    Column("request_hash", String(64), nullable=False),
)

Index("ix_interactions_member_id_occurred_at", interactions.c.member_id, interactions.c.occurred_at)

tier_changes = Table(
    "tier_changes",
    metadata,
    Column("id", Id, primary_key=True, autoincrement=True),
    Column("member_id", Id, ForeignKey("members.id"), nullable=False, index=True),
    Column("from_tier", String(16), nullable=False),
    Column("to_tier", String(16), nullable=False),
    # UPGRADE (threshold reached), DOWNGRADE (anniversary review) or MERGE.
    Column("reason", String(16), nullable=False),
    Column("growth_value", BigInteger, nullable=False),
    Column("changed_at", UtcDateTime, nullable=False),
)

identities = Table(
    "identities",
    metadata,
    Column("id", Id, primary_key=True, autoincrement=True),
    Column("member_id", Id, ForeignKey("members.id"), nullable=False, index=True),
    Column("kind", String(32), nullable=False),
    Column("value", String(255), nullable=False),
    Column("linked_at", UtcDateTime, nullable=False),
    # For PARTNER_ACCOUNT identities: the partner whose program the account is in.
    Column("partner_id", Id, ForeignKey("partners.id"), nullable=True),
    UniqueConstraint("kind", "value", name="uq_identities_kind_value"),
)

Index("ix_identities_partner_id_member_id", identities.c.partner_id, identities.c.member_id)

# A member's consent to be seen by a partner (besides holding an account in its program).
consents = Table(
    "consents",
    metadata,
    Column("id", Id, primary_key=True, autoincrement=True),
    Column("member_id", Id, ForeignKey("members.id"), nullable=False),
    Column("partner_id", Id, ForeignKey("partners.id"), nullable=False),
    Column("granted_at", UtcDateTime, nullable=False),
    Column("revoked_at", UtcDateTime, nullable=True),
    UniqueConstraint("partner_id", "member_id", name="uq_consents_partner_id_member_id"),
)
