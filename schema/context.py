"""The per-request context every resolver sees through `info.context`. It lives with the schema
so types can name it without reaching up; the loaders are built by `resolvers/` (its
`dataloaders.Loaders`), and named here by what the schema's types ask of them (`Loaders`), so
the schema does not import resolvers even for type checking."""

from __future__ import annotations

from collections.abc import Awaitable, Callable
from dataclasses import dataclass, field
from typing import Any, Protocol

from auth.principal import Principal
from infra.database import Database
from loyalty.program import Program
from loyalty.promotions.campaign import READ_THROUGH, CampaignBook
from loyalty.visibility import Visibility
from partners.directory import ConnectorDirectory
from partners.egress import EgressPolicy


class Loader(Protocol):
    """One batching loader: a key's value (None when the caller may not see it)."""

    def load(self, key: Any) -> Awaitable[Any]: ...

    def prime(self, key: Any, value: Any) -> Any: ...


class Loaders(Protocol):
    """The per-request loaders, one per thing and key (resolvers.dataloaders.Loaders)."""

    @property
    def member_by_id(self) -> Loader: ...
    @property
    def partner_by_id(self) -> Loader: ...
    @property
    def purchase_by_id(self) -> Loader: ...
    @property
    def reward_by_id(self) -> Loader: ...
    @property
    def identities_by_member(self) -> Loader: ...
    @property
    def birth_date_by_member(self) -> Loader: ...
    @property
    def consents_by_member(self) -> Loader: ...
    @property
    def balance_by_member(self) -> Loader: ...
    @property
    def ledger_entries_by_member(self) -> Loader: ...
    @property
    def growth_value_by_member(self) -> Loader: ...
    @property
    def insight_by_member(self) -> Loader: ...
    @property
    def tier_changes_by_member(self) -> Loader: ...
    @property
    def expiring_points_by_member(self) -> Loader: ...
    @property
    def referrals_by_member(self) -> Loader: ...
    @property
    def terms_by_partner(self) -> Loader: ...
    @property
    def coupons_by_member(self) -> Loader: ...
    @property
    def grants_by_member(self) -> Loader: ...
    @property
    def coupons_by_purchase(self) -> Loader: ...
    @property
    def campaigns_by_tier(self) -> Loader: ...
    @property
    def coupon_template_by_id(self) -> Loader: ...
    @property
    def rate_cards_by_partner(self) -> Loader: ...
    @property
    def events_by_exchange(self) -> Loader: ...
    @property
    def exchange_by_id(self) -> Loader: ...
    @property
    def purchases_by_member(self) -> Loader: ...
    @property
    def partner_balance(self) -> Loader: ...


@dataclass(frozen=True, slots=True)
class Credential:
    """The token a request came with, as a subscription holding it open checks it again:
    `still_good` (not revoked, same principal) and when it expires (`ends_at()`, epoch seconds;
    read only by a subscription, so no other request decodes the token again)."""

    still_good: Callable[[], Awaitable[bool]]
    ends_at: Callable[[], float | None] = lambda: None


async def _never() -> bool:
    return False


NO_CREDENTIAL = Credential(_never)


@dataclass(slots=True)
class Context:
    db: Database
    program: Program
    principal: Principal
    # What the principal may see and act on (auth.ownership decides; the domain applies it).
    visible: Visibility
    loaders: Loaders
    directory: ConnectorDirectory
    # The request came from the federation router (it presented the configured credential).
    from_router: bool = False
    # Where webhooks may point (partners.egress).
    egress: EgressPolicy = field(default_factory=EgressPolicy)
    # The campaigns in force, kept in memory by the app (read per use without it).
    campaigns: CampaignBook = READ_THROUGH
    request: Any = None
    response: Any = None
    # Live updates: the process's feed (loyalty.live_feed.LiveFeed), the subscriptions a
    # principal may hold at once, and whether the caller's credential is still good.
    live: Any = None
    live_limit: int = 0
    credential: Credential = field(default_factory=lambda: NO_CREDENTIAL)
    # What a WebSocket client sent with connection_init (Strawberry sets it).
    connection_params: Any = None
