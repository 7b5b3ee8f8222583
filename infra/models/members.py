"""Members, their identities and consents, their interactions and tier history."""

from __future__ import annotations

from sqlalchemy import Column, Date, Index, Integer, PrimaryKeyConstraint, Table, UniqueConstraint

from infra.models.base import KEY_LENGTH, chars, metadata, moment, ref, serial, whole

members = Table(
    "members",
    metadata,
    serial(),
    chars("display_name", 200),
    chars("tier", 16, server_default="SILVER"),
    chars("status", 16, server_default="ACTIVE"),
    moment("enrolled_at"),
    # The enrollment's idempotency key and a hash of its input, to answer replays.
    chars("enrollment_key", KEY_LENGTH, optional=True, unique=True),
    chars("request_hash", 64, optional=True),
    chars("referral_code", 16, optional=True, unique=True),
    ref("referred_by", "members", optional=True, index=True),
    moment("referred_at", optional=True),
    # The last membership anniversary at which the tier was re-evaluated.
    moment("tier_reviewed_at", optional=True),
    # A merged member is a tombstone pointing at the member that absorbed it.
    ref("merged_into", "members", optional=True),
    moment("merged_at", optional=True),
    # Optional; the member may set and change it (a birthday gift once a year).
    Column("birth_date", Date, nullable=True),
    # The lifecycle last announced (lifecycle.changed) by the daily job.
    chars("announced_lifecycle", 16, optional=True),
)

Index("ix_members_tier_id", members.c.tier, members.c.id)

# Growth value from interactions (a review, a check-in, ...), once per idempotency key.
interactions = Table(
    "interactions",
    metadata,
    serial(),
    ref("member_id", "members"),
    chars("kind", 16),
    chars("idempotency_key", KEY_LENGTH, unique=True),
    whole("growth_value"),
    moment("occurred_at"),
    chars("request_hash", 64),
)

Index("ix_interactions_member_id_occurred_at", interactions.c.member_id, interactions.c.occurred_at)

# A member's growth value per calendar month (UTC) of its purchases and interactions, kept in
# the transaction that adds or takes back growth (loyalty.growth): the rolling window is read
# from at most 13 rows. first_at/last_at bound the times of the events counted, so a month the
# window only partly covers is recognised.
growth_buckets = Table(
    "growth_buckets",
    metadata,
    ref("member_id", "members"),
    # year * 100 + month, e.g. 202611
    Column("month", Integer, nullable=False),
    whole("growth"),
    moment("first_at"),
    moment("last_at"),
    PrimaryKeyConstraint("member_id", "month", name="pk_growth_buckets"),
)

tier_changes = Table(
    "tier_changes",
    metadata,
    serial(),
    ref("member_id", "members", index=True),
    chars("from_tier", 16),
    chars("to_tier", 16),
    # UPGRADE (threshold reached), DOWNGRADE (anniversary review), MERGE, or UPGRADE_REVERTED
    # (a refund took back the growth value a purchase's upgrade needed).
    chars("reason", 16),
    whole("growth_value"),
    moment("changed_at"),
    # The purchase whose growth value caused an UPGRADE (or whose refund reverted one).
    ref("purchase_id", "purchases", optional=True, index=True),
)

identities = Table(
    "identities",
    metadata,
    serial(),
    ref("member_id", "members", index=True),
    chars("kind", 32),
    chars("value", 255),
    moment("linked_at"),
    # For PARTNER_ACCOUNT identities: the partner whose program the account is in.
    ref("partner_id", "partners", optional=True),
    UniqueConstraint("kind", "value", name="uq_identities_kind_value"),
)

Index("ix_identities_partner_id_member_id", identities.c.partner_id, identities.c.member_id)

# A member's consent to be seen by a partner (besides holding an account in its program).
consents = Table(
    "consents",
    metadata,
    serial(),
    ref("member_id", "members"),
    ref("partner_id", "partners"),
    moment("granted_at"),
    moment("revoked_at", optional=True),
    UniqueConstraint("partner_id", "member_id", name="uq_consents_partner_id_member_id"),
)
