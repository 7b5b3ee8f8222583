"""The per-request context every resolver sees through `info.context`. It lives with the schema
so types can name it without reaching up; the loaders are built by `resolvers/` and are named
here for type checking only (the one import against the layers' direction, and never run)."""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import TYPE_CHECKING, Any

from auth.principal import Principal
from infra.database import Database
from loyalty.program import Program
from loyalty.promotions.campaign import READ_THROUGH, CampaignBook
from loyalty.visibility import Visibility
from partners.directory import ConnectorDirectory
from partners.egress import EgressPolicy

if TYPE_CHECKING:
    from resolvers.dataloaders import Loaders


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
