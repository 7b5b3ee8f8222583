"""Per-request dataloaders: each batch is one SQL statement over a short read-only connection,
whatever the number of keys, with results in key order. Named <Thing>By<Key>Loader."""

from __future__ import annotations

import asyncio
from collections import defaultdict
from collections.abc import Hashable, Sequence
from datetime import UTC, datetime
from typing import Any

from aiodataloader import DataLoader
from opentelemetry import trace
from sqlalchemy import BigInteger, Select, cast, func, select
from sqlalchemy.ext.asyncio import AsyncConnection

from auth import ownership
from auth.principal import Principal
from infra.database import Database
from infra.errors import PartnerUnavailable
from infra.models import (
    exchange_events,
    exchange_terms,
    exchanges,
    identities,
    members,
    partners,
    purchases,
    rewards,
    tier_changes,
)
from loyalty import expiry, ledger, segment, tier
from loyalty.program import Program
from partners.connector import ConnectorError
from partners.directory import ConnectorDirectory

tracer = trace.get_tracer("pointgate.dataloaders")


class BatchLoader(DataLoader):  # type: ignore[misc]
    """A loader whose batch runs in its own read connection and its own span. Rules that depend
    on time (growth window, lifecycle, expiry) are evaluated at the batch's time."""

    def __init__(self, db: Database, program: Program, principal: Principal) -> None:
        super().__init__()
        self.db = db
        self.program = program
        # What the request's principal may see: a row it may not see loads as missing.
        self.principal = principal

    async def batch_load_fn(self, keys: Sequence[Any]) -> list[Any]:
        name = type(self).__name__
        with tracer.start_as_current_span(f"dataloader {name}") as span:
            span.set_attribute("dataloader.batch_size", len(keys))
            async with self.db.read() as conn:
                return await self.load_batch(conn, keys)

    async def load_batch(self, conn: AsyncConnection, keys: Sequence[Any]) -> list[Any]:
        raise NotImplementedError


def in_key_order(rows: Any, keys: Sequence[Hashable], key_of: str) -> list[Any]:
    by_key = {getattr(row, key_of): row for row in rows}
    return [by_key.get(key) for key in keys]


def grouped_in_key_order(rows: Any, keys: Sequence[Hashable], key_of: str) -> list[list[Any]]:
    groups: dict[Hashable, list[Any]] = defaultdict(list)
    for row in rows:
        groups[getattr(row, key_of)].append(row)
    return [groups.get(key, []) for key in keys]


MEMBER_COLUMNS = tuple(
    c for c in members.c if c.name not in ("enrollment_key", "request_hash", "tier_reviewed_at")
)
PURCHASE_COLUMNS = tuple(c for c in purchases.c if c.name != "request_hash")


class MemberByIdLoader(BatchLoader):
    async def load_batch(self, conn: AsyncConnection, keys: Sequence[int]) -> list[Any]:
        rows = await conn.execute(
            select(*MEMBER_COLUMNS).where(
                members.c.id.in_(keys), ownership.members_visible(self.principal)
            )
        )
        return in_key_order(rows, keys, "id")


class PartnerByIdLoader(BatchLoader):
    async def load_batch(self, conn: AsyncConnection, keys: Sequence[int]) -> list[Any]:
        rows = await conn.execute(
            select(partners).where(
                partners.c.id.in_(keys), ownership.partners_visible(self.principal)
            )
        )
        return in_key_order(rows, keys, "id")


class PurchaseByIdLoader(BatchLoader):
    async def load_batch(self, conn: AsyncConnection, keys: Sequence[int]) -> list[Any]:
        rows = await conn.execute(
            select(*PURCHASE_COLUMNS).where(
                purchases.c.id.in_(keys), ownership.purchases_visible(self.principal)
            )
        )
        return in_key_order(rows, keys, "id")


class ExchangeByIdLoader(BatchLoader):
    async def load_batch(self, conn: AsyncConnection, keys: Sequence[str]) -> list[Any]:
        rows = await conn.execute(
            select(exchanges).where(
                exchanges.c.id.in_(keys), ownership.exchanges_visible(self.principal)
            )
        )
        return in_key_order(rows, keys, "id")


class RewardByIdLoader(BatchLoader):
    async def load_batch(self, conn: AsyncConnection, keys: Sequence[int]) -> list[Any]:
        rows = await conn.execute(
            select(rewards).where(rewards.c.id.in_(keys), ownership.rewards_visible(self.principal))
        )
        return in_key_order(rows, keys, "id")


class GrowthValueByMemberLoader(BatchLoader):
    async def load_batch(self, conn: AsyncConnection, keys: Sequence[int]) -> list[int]:
        values = await tier.growth_values(conn, self.program, list(keys), datetime.now(UTC))
        return [values[key] for key in keys]


class InsightByMemberLoader(BatchLoader):
    """Lifecycle and segment."""

    async def load_batch(self, conn: AsyncConnection, keys: Sequence[int]) -> list[Any]:
        purchase_scope, interaction_scope = ownership.aggregate_scopes(self.principal)
        found = await segment.insights(
            conn, self.program, list(keys), datetime.now(UTC),
            purchase_scope=purchase_scope, interaction_scope=interaction_scope,
        )  # fmt: skip
        return [found.get(key) for key in keys]


class TierChangesByMemberLoader(BatchLoader):
    async def load_batch(self, conn: AsyncConnection, keys: Sequence[int]) -> list[list[Any]]:
        rows = await conn.execute(
            select(tier_changes)
            .where(tier_changes.c.member_id.in_(keys))
            .order_by(tier_changes.c.id.desc())
        )
        return grouped_in_key_order(rows, keys, "member_id")


class ExpiringPointsByMemberLoader(BatchLoader):
    """Keys are (member id, within days); one statement per distinct number of days."""

    async def load_batch(
        self, conn: AsyncConnection, keys: Sequence[tuple[int, int]]
    ) -> list[expiry.ExpiringPoints]:
        by_days: dict[int, list[int]] = defaultdict(list)
        for member_id, days in keys:
            by_days[days].append(member_id)
        now = datetime.now(UTC)
        found: dict[tuple[int, int], expiry.ExpiringPoints] = {}
        for days, member_ids in by_days.items():
            per_member = await expiry.expiring_points(
                conn, self.program, member_ids, now=now, within_days=days
            )
            found.update({(m, days): points for m, points in per_member.items()})
        return [found[key] for key in keys]


class IdentitiesByMemberLoader(BatchLoader):
    async def load_batch(self, conn: AsyncConnection, keys: Sequence[int]) -> list[list[Any]]:
        rows = await conn.execute(
            select(identities.c.member_id, identities.c.kind, identities.c.value,
                   identities.c.partner_id, identities.c.linked_at)
            .where(identities.c.member_id.in_(keys), ownership.identities_visible(self.principal))
            .order_by(identities.c.id)
        )  # fmt: skip
        return grouped_in_key_order(rows, keys, "member_id")


class BalanceByMemberLoader(BatchLoader):
    async def load_batch(self, conn: AsyncConnection, keys: Sequence[int]) -> list[Any]:
        rows = await ledger.member_balances(conn, keys)
        by_member = {row.member_id: ledger.balance_from_row(row) for row in rows}
        return [by_member.get(key) for key in keys]


# Page keys are (owner id, first, after id or None). A batch issues one windowed query per
# distinct (first, after) pair, which in practice is one query for the whole list.
PageKey = tuple[int, int, int | None]


async def load_pages(
    conn: AsyncConnection,
    keys: Sequence[PageKey],
    page_query: Any,
) -> list[list[Any]]:
    by_shape: dict[tuple[int, int | None], list[int]] = defaultdict(list)
    for owner, first, after in keys:
        by_shape[(first, after)].append(owner)
    pages: dict[PageKey, list[Any]] = {}
    for (first, after), owners in by_shape.items():
        grouped = defaultdict(list)
        for row in await conn.execute(page_query(owners, first + 1, after)):
            grouped[row.owner].append(row)
        for owner in owners:
            pages[(owner, first, after)] = grouped.get(owner, [])
    return [pages[key] for key in keys]


def _top_n_per_owner(inner: Select[Any], owner: Any, order_key: Any, limit: int) -> Select[Any]:
    ranked = inner.add_columns(
        func.row_number().over(partition_by=owner, order_by=order_key.desc()).label("rank")
    ).subquery()
    return select(ranked).where(ranked.c.rank <= limit).order_by(ranked.c.owner, ranked.c.id.desc())


class PurchasesByMemberLoader(BatchLoader):
    async def load_batch(self, conn: AsyncConnection, keys: Sequence[PageKey]) -> list[Any]:
        def page_query(owners: list[int], limit: int, after: int | None) -> Select[Any]:
            inner = select(purchases.c.member_id.label("owner"), *PURCHASE_COLUMNS).where(
                purchases.c.member_id.in_(owners), ownership.purchases_visible(self.principal)
            )
            if after is not None:
                inner = inner.where(purchases.c.id < after)
            return _top_n_per_owner(inner, purchases.c.member_id, purchases.c.id, limit)

        return await load_pages(conn, keys, page_query)


class LedgerEntriesByMemberLoader(BatchLoader):
    async def load_batch(self, conn: AsyncConnection, keys: Sequence[PageKey]) -> list[Any]:
        def page_query(owners: list[int], limit: int, after: int | None) -> Select[Any]:
            entries = ledger.entries_for_accounts([ledger.member_account(o) for o in owners])
            member_id = func.substr(entries.c.account_id, len(ledger.MEMBER_PREFIX) + 1)
            owner = cast(member_id, BigInteger)
            inner = select(
                owner.label("owner"), *[c for c in entries.c if c.name != "account_id"]
            ).where(ownership.ledger_visible(self.principal, entries.c.partner_id))
            if after is not None:
                inner = inner.where(entries.c.id < after)
            return _top_n_per_owner(inner, entries.c.account_id, entries.c.id, limit)

        return await load_pages(conn, keys, page_query)


class ReferralsByMemberLoader(BatchLoader):
    async def load_batch(self, conn: AsyncConnection, keys: Sequence[PageKey]) -> list[Any]:
        def page_query(owners: list[int], limit: int, after: int | None) -> Select[Any]:
            inner = select(
                members.c.referred_by.label("owner"),
                *ownership.REFEREE_COLUMNS,
                ownership.referee_qualified().label("qualified"),
            ).where(members.c.referred_by.in_(owners), ownership.referees_visible(self.principal))
            if after is not None:
                inner = inner.where(members.c.id < after)
            return _top_n_per_owner(inner, members.c.referred_by, members.c.id, limit)

        return await load_pages(conn, keys, page_query)


class Loaders:
    """Built once per request: a loader caches and batches within one request only."""

    def __init__(
        self,
        db: Database,
        program: Program,
        principal: Principal,
        directory: ConnectorDirectory | None = None,
        partner_deadline: float = 2.0,
    ) -> None:
        self.member_by_id = MemberByIdLoader(db, program, principal)
        self.partner_by_id = PartnerByIdLoader(db, program, principal)
        self.purchase_by_id = PurchaseByIdLoader(db, program, principal)
        self.reward_by_id = RewardByIdLoader(db, program, principal)
        self.identities_by_member = IdentitiesByMemberLoader(db, program, principal)
        self.balance_by_member = BalanceByMemberLoader(db, program, principal)
        self.purchases_by_member = PurchasesByMemberLoader(db, program, principal)
        self.ledger_entries_by_member = LedgerEntriesByMemberLoader(db, program, principal)
        self.growth_value_by_member = GrowthValueByMemberLoader(db, program, principal)
        self.insight_by_member = InsightByMemberLoader(db, program, principal)
        self.tier_changes_by_member = TierChangesByMemberLoader(db, program, principal)
        self.expiring_points_by_member = ExpiringPointsByMemberLoader(db, program, principal)
        self.referrals_by_member = ReferralsByMemberLoader(db, program, principal)
        self.terms_by_partner = TermsByPartnerLoader(db, program, principal)
        self.events_by_exchange = EventsByExchangeLoader(db, program, principal)
        self.exchange_by_id = ExchangeByIdLoader(db, program, principal)
        self.partner_balance = PartnerBalanceLoader(
            db, directory or ConnectorDirectory(), partner_deadline
        )


class TermsByPartnerLoader(BatchLoader):
    async def load_batch(self, conn: AsyncConnection, keys: Sequence[int]) -> list[list[Any]]:
        rows = await conn.execute(
            select(exchange_terms)
            .where(exchange_terms.c.partner_id.in_(keys))
            .order_by(exchange_terms.c.valid_from, exchange_terms.c.id)
        )
        return grouped_in_key_order(rows, keys, "partner_id")


class EventsByExchangeLoader(BatchLoader):
    async def load_batch(self, conn: AsyncConnection, keys: Sequence[str]) -> list[list[Any]]:
        rows = await conn.execute(
            select(exchange_events)
            .where(exchange_events.c.exchange_id.in_(keys))
            .order_by(exchange_events.c.id)
        )
        return grouped_in_key_order(rows, keys, "exchange_id")


class PartnerBalanceLoader(DataLoader):  # type: ignore[misc]
    """Keys are (partner id, account in its program). One connector call per partner per batch,
    all partners at once, each under `deadline`; a partner that fails or is late turns its keys
    into errors, so only those fields fail and the rest of the answer stands."""

    def __init__(self, db: Database, directory: ConnectorDirectory, deadline: float) -> None:
        super().__init__()
        self.db = db
        self.directory = directory
        self.deadline = deadline

    async def batch_load_fn(self, keys: Sequence[tuple[int, str]]) -> list[Any]:
        by_partner: dict[int, list[str]] = defaultdict(list)
        for partner_id, account in keys:
            by_partner[partner_id].append(account)
        async with self.db.read() as conn:
            rows = {
                row.id: row
                for row in await conn.execute(
                    select(partners).where(partners.c.id.in_(list(by_partner)))
                )
            }

        async def ask(partner_id: int) -> dict[str, int] | Exception:
            with tracer.start_as_current_span("partner balances") as span:
                span.set_attribute("partner.id", partner_id)
                connector = self.directory.for_partner(rows[partner_id])
                try:
                    return await asyncio.wait_for(
                        connector.balances(by_partner[partner_id]), self.deadline
                    )
                except (ConnectorError, TimeoutError) as error:
                    span.record_exception(error)
                    return PartnerUnavailable(
                        f"partner {partner_id} is not answering right now", partner=str(partner_id)
                    )

        answers = dict(
            zip(by_partner, await asyncio.gather(*(ask(p) for p in by_partner)), strict=True)
        )
        results: list[Any] = []
        for partner_id, account in keys:
            answer = answers[partner_id]
            results.append(answer if isinstance(answer, Exception) else answer.get(account, 0))
        return results
