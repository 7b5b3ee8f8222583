"""Members, their identities and consents, their interactions and tier history."""

from __future__ import annotations

from sqlalchemy import Column, Date, Index, Integer, PrimaryKeyConstraint, Table, UniqueConstraint

from infra.models.base import KEY_LENGTH, chars, member_row, metadata, moment, ref, serial, whole
from infra.types import Encrypted, Id

members = Table(
    "members",
    metadata,
    serial(),
    chars("display_name", 200),
    chars("tier", 16, server_default="SILVER"),
    chars("status", 16, server_default="ACTIVE"),
    moment("enrolled_at"),
    # The enrollment's idempotency key and a hash of its input, to answer replays. Both it and
    # the referral code are unique across members through member_keys.
    chars("enrollment_key", KEY_LENGTH, optional=True),
    chars("request_hash", 64, optional=True),
    chars("referral_code", 16, optional=True, index=True),
    # Other members (no foreign key: sharded by member, they may live elsewhere).
    Column("referred_by", Id, nullable=True, index=True),
    moment("referred_at", optional=True),
    # The last membership anniversary at which the tier was re-evaluated.
    moment("tier_reviewed_at", optional=True),
    # A merged member is a tombstone pointing at the member that absorbed it.
    Column("merged_into", Id, nullable=True),
    moment("merged_at", optional=True),
    # Optional; the member may set and change it (a birthday gift once a year).
    Column("birth_date", Date, nullable=True),
    # The lifecycle last announced (lifecycle.changed) by the daily job.
    chars("announced_lifecycle", 16, optional=True),
)

Index("ix_members_tier_id", members.c.tier, members.c.id)
# A member's referrals, newest first (Member.referrals).
Index("ix_members_referred_by_id", members.c.referred_by, members.c.id)

# Growth value from interactions (a review, a check-in, ...), once per idempotency key.
interactions = Table(
    "interactions",
    metadata,
    *member_row("interactions"),
    chars("kind", 16),
    chars("idempotency_key", KEY_LENGTH),
    whole("growth_value"),
    moment("occurred_at"),
    chars("request_hash", 64),
    UniqueConstraint("member_id", "idempotency_key", name="uq_interactions_member_id_key"),
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
    *member_row("tier_changes"),
    chars("from_tier", 16),
    chars("to_tier", 16),
    # UPGRADE (threshold reached), DOWNGRADE (anniversary review), MERGE, or UPGRADE_REVERTED
    # (a refund took back the growth value a purchase's upgrade needed).
    chars("reason", 16),
    whole("growth_value"),
    moment("changed_at"),
    # The purchase whose growth value caused an UPGRADE (or whose refund reverted one).
    # (No foreign key: a merge moves the purchase to another member, not its tier history.)
    Column("purchase_id", Id, nullable=True, index=True),
)

identities = Table(
    "identities",
    metadata,
    *member_row("identities"),
    chars("kind", 32),
    # E-mail and phone: a keyed hash of the value (loyalty.sealing), which is in `sealed`.
    chars("value", 255),
    Column("sealed", Encrypted(512, "identities.sealed"), nullable=True),
    moment("linked_at"),
    # For PARTNER_ACCOUNT identities: the partner whose program the account is in.
    ref("partner_id", "partners", optional=True),
    # Unique across members through member_keys ("identity:<kind>:<value>").
    UniqueConstraint("member_id", "kind", "value", name="uq_identities_member_id_kind_value"),
)

Index("ix_identities_kind_value", identities.c.kind, identities.c.value)

Index("ix_identities_partner_id_member_id", identities.c.partner_id, identities.c.member_id)

# A member's consent to be seen by a partner (besides holding an account in its program).
consents = Table(
    "consents",
    metadata,
    *member_row("consents"),
    ref("partner_id", "partners"),
    moment("granted_at"),
    moment("revoked_at", optional=True),
    UniqueConstraint("partner_id", "member_id", name="uq_consents_partner_id_member_id"),
)

# A member's consent to a partner for a purpose (loyalty.consent): to see its e-mail and phone,
# its birth date, its purchases at other partners. Kept with its history: withdrawing closes the
# open row, granting again opens another.
data_consents = Table(
    "data_consents",
    metadata,
    *member_row("data_consents"),
    ref("partner_id", "partners"),
    chars("purpose", 16),
    moment("granted_at"),
    moment("withdrawn_at", optional=True),
)

Index("ix_data_consents_member_id_partner_id", data_consents.c.member_id,
      data_consents.c.partner_id, data_consents.c.purpose)  # fmt: skip

# What must be unique across all members, whichever member holds it: an enrollment's key, a
# referral code, an identity, an order, a coupon code (loyalty.member_keys). Sharded by member,
# a unique constraint of a member's table holds per member only; these rows, keyed and spread
# by the key itself, make it global. Written in the transaction that takes the key.
member_keys = Table(
    "member_keys",
    metadata,
    chars("key", 400, primary_key=True),
    Column("member_id", Id, nullable=False, index=True),
)

# Reads of a member's data by partners' clients, counted per member, client and UTC day
# (loyalty.data_reads): what a member's export shows of who accessed its data.
partner_reads = Table(
    "partner_reads",
    metadata,
    ref("member_id", "members"),
    ref("partner_id", "partners"),
    chars("client_id", 64),
    Column("day", Date, nullable=False),
    whole("reads"),
    PrimaryKeyConstraint("member_id", "partner_id", "client_id", "day", name="pk_partner_reads"),
)
