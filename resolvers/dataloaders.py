"""Per-request dataloaders, named <Thing>By<Key>Loader: each batch calls one domain read
function (which knows the SQL and applies the caller's visibility) over a short read-only
connection, one statement whatever the number of keys, and answers in key order."""

from __future__ import annotations

import asyncio
from collections import defaultdict
from collections.abc import Hashable, Iterable, Sequence
from datetime import UTC, datetime
from functools import cached_property
from typing import Any

from aiodataloader import DataLoader
from opentelemetry import trace
from sqlalchemy.ext.asyncio import AsyncConnection

from infra.database import Database
from infra.reads import PageKey
from loyalty import (
    consent,
    entries,
    expiry,
    growth,
    ledger,
    member,
    purchase,
    referral,
    reward,
    segment,
    tier,
)
from loyalty.errors import PartnerUnavailable
from loyalty.program import Program
from loyalty.promotions import benefit, coupon, offers
from loyalty.visibility import Visibility
from partners import exchange, rate_card, registry
from partners.connector import ConnectorError
from partners.directory import ConnectorDirectory
from schema.context import Loader

tracer = trace.get_tracer("pointgate.dataloaders")


class BatchLoader(DataLoader):  # type: ignore[misc]
    """A loader whose batch runs in its own read connection and its own span. Rules that depend
    on time (growth window, lifecycle, expiry) are evaluated at the batch's time."""

    def __init__(self, db: Database, program: Program, visible: Visibility) -> None:
        super().__init__()
        self.db = db
        self.program = program
        # What the request's principal may see: a row it may not see loads as missing.
        self.visible = visible
        # A loader of pages primes the by-id loader of the rows on them.
        self.primes: DataLoader | None = None

    def load(self, key: Any) -> Any:
        """The key's future, shielded: many fields await one cached future, and graphql-core
        cancels a field's task when a sibling's error ends its branch; unshielded, that cancels
        the shared future and every other field awaiting it gets a CancelledError, which no
        error handling catches (found by the schema fuzz test: a member's campaigns)."""
        return asyncio.shield(super().load(key))

    async def batch_load_fn(self, keys: Sequence[Any]) -> list[Any]:
        name = type(self).__name__
        with tracer.start_as_current_span(f"dataloader {name}") as span:
            span.set_attribute("dataloader.batch_size", len(keys))
            async with self.db.read() as conn:
                results = await self.load_batch(conn, keys)
        if self.primes is not None:
            prime_rows(self.primes, (row for page in results for row in page))
        return results

    async def load_batch(self, conn: AsyncConnection, keys: Sequence[Any]) -> list[Any]:
        raise NotImplementedError


def prime_rows(loader: Loader, rows: Iterable[Any]) -> None:
    """Rows a list or a page loaded answer later loads of the same ids from the cache."""
    for row in rows:
        loader.prime(row.id, row)


def in_key_order(rows: Any, keys: Sequence[Hashable], key_of: str) -> list[Any]:
    by_key = {getattr(row, key_of): row for row in rows}
    return [by_key.get(key) for key in keys]


def grouped_in_key_order(rows: Any, keys: Sequence[Hashable], key_of: str) -> list[list[Any]]:
    groups: dict[Hashable, list[Any]] = defaultdict(list)
    for row in rows:
        groups[getattr(row, key_of)].append(row)
    return [groups.get(key, []) for key in keys]


class MemberByIdLoader(BatchLoader):
    async def load_batch(self, conn: AsyncConnection, keys: Sequence[int]) -> list[Any]:
        return in_key_order(await member.members_by_id(conn, keys, self.visible), keys, "id")


class PartnerByIdLoader(BatchLoader):
    async def load_batch(self, conn: AsyncConnection, keys: Sequence[int]) -> list[Any]:
        return in_key_order(await registry.partners_by_id(conn, keys, self.visible), keys, "id")


class PurchaseByIdLoader(BatchLoader):
    async def load_batch(self, conn: AsyncConnection, keys: Sequence[int]) -> list[Any]:
        return in_key_order(await purchase.purchases_by_id(conn, keys, self.visible), keys, "id")


class ExchangeByIdLoader(BatchLoader):
    async def load_batch(self, conn: AsyncConnection, keys: Sequence[str]) -> list[Any]:
        return in_key_order(await exchange.exchanges_by_id(conn, keys, self.visible), keys, "id")


class RewardByIdLoader(BatchLoader):
    async def load_batch(self, conn: AsyncConnection, keys: Sequence[int]) -> list[Any]:
        return in_key_order(await reward.rewards_by_id(conn, keys, self.visible), keys, "id")


class GrowthValueByMemberLoader(BatchLoader):
    async def load_batch(self, conn: AsyncConnection, keys: Sequence[int]) -> list[int]:
        values = await growth.values(conn, self.program, list(keys), datetime.now(UTC))
        return [values[key] for key in keys]


class InsightByMemberLoader(BatchLoader):
    """Lifecycle and segment."""

    async def load_batch(self, conn: AsyncConnection, keys: Sequence[int]) -> list[Any]:
        found = await segment.insights(
            conn, self.program, list(keys), datetime.now(UTC),
            purchase_scope=self.visible.aggregated_purchases,
            interaction_scope=self.visible.aggregated_interactions,
        )  # fmt: skip
        return [found.get(key) for key in keys]


class TierChangesByMemberLoader(BatchLoader):
    async def load_batch(self, conn: AsyncConnection, keys: Sequence[int]) -> list[list[Any]]:
        return grouped_in_key_order(await tier.tier_changes_of(conn, keys), keys, "member_id")


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
        rows = await member.identities_of(conn, keys, self.visible)
        return grouped_in_key_order(rows, keys, "member_id")


class BirthDateByMemberLoader(BatchLoader):
    async def load_batch(self, conn: AsyncConnection, keys: Sequence[int]) -> list[Any]:
        rows = await member.birth_dates_of(conn, keys, self.visible)
        by_member = {row.id: row.birth_date for row in rows}
        return [by_member.get(key) for key in keys]


class ConsentsByMemberLoader(BatchLoader):
    async def load_batch(self, conn: AsyncConnection, keys: Sequence[int]) -> list[list[Any]]:
        rows = await consent.consents_of(conn, keys, self.visible)
        return grouped_in_key_order(rows, keys, "member_id")


class BalanceByMemberLoader(BatchLoader):
    async def load_batch(self, conn: AsyncConnection, keys: Sequence[int]) -> list[Any]:
        rows = await ledger.member_balances(conn, keys)
        by_member = {row.member_id: ledger.balance_from_row(row) for row in rows}
        return [by_member.get(key) for key in keys]


# Page keys are (owner id, first, after id or None); a list's pages are one statement.
class PurchasesByMemberLoader(BatchLoader):
    async def load_batch(self, conn: AsyncConnection, keys: Sequence[PageKey]) -> list[Any]:
        return await purchase.purchase_pages(conn, keys, self.visible)


class LedgerEntriesByMemberLoader(BatchLoader):
    async def load_batch(self, conn: AsyncConnection, keys: Sequence[PageKey]) -> list[Any]:
        return await entries.entry_pages(conn, keys, self.visible)


class ReferralsByMemberLoader(BatchLoader):
    async def load_batch(self, conn: AsyncConnection, keys: Sequence[PageKey]) -> list[Any]:
        return await referral.referral_pages(conn, keys, self.visible)


class TermsByPartnerLoader(BatchLoader):
    async def load_batch(self, conn: AsyncConnection, keys: Sequence[int]) -> list[list[Any]]:
        return grouped_in_key_order(await registry.terms_of(conn, keys), keys, "partner_id")


class CouponsByMemberLoader(BatchLoader):
    async def load_batch(self, conn: AsyncConnection, keys: Sequence[int]) -> list[list[Any]]:
        rows = await coupon.coupons_of(conn, keys, self.visible)
        return grouped_in_key_order(rows, keys, "member_id")


class GrantsByMemberLoader(BatchLoader):
    async def load_batch(self, conn: AsyncConnection, keys: Sequence[int]) -> list[list[Any]]:
        rows = await benefit.grants_of(conn, keys, self.visible)
        return grouped_in_key_order(rows, keys, "member_id")


class CouponsByPurchaseLoader(BatchLoader):
    async def load_batch(self, conn: AsyncConnection, keys: Sequence[int]) -> list[list[Any]]:
        rows = await coupon.coupons_of_purchases(conn, keys, self.visible)
        return grouped_in_key_order(rows, keys, "purchase_id")


class CampaignsByTierLoader(BatchLoader):
    async def load_batch(self, conn: AsyncConnection, keys: Sequence[str]) -> list[list[Any]]:
        found = await offers.running_for_tiers(
            conn, list(keys), datetime.now(UTC), self.visible.offered_campaigns
        )
        return [[row for tier, row in found if tier == key] for key in keys]


class CouponTemplateByIdLoader(BatchLoader):
    async def load_batch(self, conn: AsyncConnection, keys: Sequence[int]) -> list[Any]:
        return in_key_order(await coupon.templates_by_id(conn, keys, self.visible), keys, "id")


class RateCardsByPartnerLoader(BatchLoader):
    async def load_batch(self, conn: AsyncConnection, keys: Sequence[int]) -> list[list[Any]]:
        rows = await rate_card.rate_cards_of(conn, keys, self.visible)
        return grouped_in_key_order(rows, keys, "partner_id")


class EventsByExchangeLoader(BatchLoader):
    async def load_batch(self, conn: AsyncConnection, keys: Sequence[str]) -> list[list[Any]]:
        return grouped_in_key_order(await exchange.events_of(conn, keys), keys, "exchange_id")


class Loaders:
    """Built once per request: a loader caches and batches within one request only. Each loader
    is made the first time the operation asks for it, so a request pays only for those it uses."""

    def __init__(
        self,
        db: Database,
        program: Program,
        visible: Visibility,
        directory: ConnectorDirectory | None = None,
        partner_deadline: float = 2.0,
    ) -> None:
        self._arguments = (db, program, visible)
        self._directory = directory
        self._partner_deadline = partner_deadline

    @cached_property
    def member_by_id(self) -> MemberByIdLoader:
        return MemberByIdLoader(*self._arguments)

    @cached_property
    def partner_by_id(self) -> PartnerByIdLoader:
        return PartnerByIdLoader(*self._arguments)

    @cached_property
    def purchase_by_id(self) -> PurchaseByIdLoader:
        return PurchaseByIdLoader(*self._arguments)

    @cached_property
    def reward_by_id(self) -> RewardByIdLoader:
        return RewardByIdLoader(*self._arguments)

    @cached_property
    def identities_by_member(self) -> IdentitiesByMemberLoader:
        return IdentitiesByMemberLoader(*self._arguments)

    @cached_property
    def birth_date_by_member(self) -> BirthDateByMemberLoader:
        return BirthDateByMemberLoader(*self._arguments)

    @cached_property
    def consents_by_member(self) -> ConsentsByMemberLoader:
        return ConsentsByMemberLoader(*self._arguments)

    @cached_property
    def balance_by_member(self) -> BalanceByMemberLoader:
        return BalanceByMemberLoader(*self._arguments)

    @cached_property
    def ledger_entries_by_member(self) -> LedgerEntriesByMemberLoader:
        return LedgerEntriesByMemberLoader(*self._arguments)

    @cached_property
    def growth_value_by_member(self) -> GrowthValueByMemberLoader:
        return GrowthValueByMemberLoader(*self._arguments)

    @cached_property
    def insight_by_member(self) -> InsightByMemberLoader:
        return InsightByMemberLoader(*self._arguments)

    @cached_property
    def tier_changes_by_member(self) -> TierChangesByMemberLoader:
        return TierChangesByMemberLoader(*self._arguments)

    @cached_property
    def expiring_points_by_member(self) -> ExpiringPointsByMemberLoader:
        return ExpiringPointsByMemberLoader(*self._arguments)

    @cached_property
    def referrals_by_member(self) -> ReferralsByMemberLoader:
        return ReferralsByMemberLoader(*self._arguments)

    @cached_property
    def terms_by_partner(self) -> TermsByPartnerLoader:
        return TermsByPartnerLoader(*self._arguments)

    @cached_property
    def coupons_by_member(self) -> CouponsByMemberLoader:
        return CouponsByMemberLoader(*self._arguments)

    @cached_property
    def grants_by_member(self) -> GrantsByMemberLoader:
        return GrantsByMemberLoader(*self._arguments)

    @cached_property
    def coupons_by_purchase(self) -> CouponsByPurchaseLoader:
        return CouponsByPurchaseLoader(*self._arguments)

    @cached_property
    def campaigns_by_tier(self) -> CampaignsByTierLoader:
        return CampaignsByTierLoader(*self._arguments)

    @cached_property
    def coupon_template_by_id(self) -> CouponTemplateByIdLoader:
        return CouponTemplateByIdLoader(*self._arguments)

    @cached_property
    def rate_cards_by_partner(self) -> RateCardsByPartnerLoader:
        return RateCardsByPartnerLoader(*self._arguments)

    @cached_property
    def events_by_exchange(self) -> EventsByExchangeLoader:
        return EventsByExchangeLoader(*self._arguments)

    @cached_property
    def exchange_by_id(self) -> ExchangeByIdLoader:
        return ExchangeByIdLoader(*self._arguments)

    @cached_property
    def purchases_by_member(self) -> PurchasesByMemberLoader:
        loader = PurchasesByMemberLoader(*self._arguments)
        loader.primes = self.purchase_by_id
        return loader

    @cached_property
    def partner_balance(self) -> PartnerBalanceLoader:
        db = self._arguments[0]
        directory = self._directory or ConnectorDirectory()
        return PartnerBalanceLoader(db, directory, self._partner_deadline)


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
            rows = {row.id: row for row in await registry.partners_by_id(conn, list(by_partner))}

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
