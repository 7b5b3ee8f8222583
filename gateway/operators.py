"""Operator commands: OAuth clients, tokens, signing keys, partners and their exchange terms."""

from __future__ import annotations

from collections.abc import Awaitable, Callable
from datetime import timedelta
from decimal import Decimal
from functools import partial
from pathlib import Path
from typing import Any, TypeVar

import typer
import uvicorn
from graphql import (
    DocumentNode,
    FragmentDefinitionNode,
    OperationDefinitionNode,
    parse,
    print_ast,
)

from auth import audit, clients, console, keys
from auth.principal import Principal, PrincipalKind, Scope
from auth.tokens import KeyCache, mint
from gateway.protection import register_operations
from gateway.settings import Settings
from gateway.shell import moment, with_db
from infra import secrets
from infra.database import Database
from infra.rekey import reencrypt_secrets
from loyalty import erasure, sealing
from loyalty.errors import DomainError
from loyalty.visibility import EVERYTHING
from partners import rate_card, registry
from partners.simulated import SimulatedPartner, simulated_app

clients_app = typer.Typer(help="OAuth clients: onboard partners and internal tools.",
                          no_args_is_help=True)  # fmt: skip
token_app = typer.Typer(help="Mint tokens of this gateway's own issuer.", no_args_is_help=True)
members_app = typer.Typer(help="Members' personal data: erasure on request, retention.",
                          no_args_is_help=True)  # fmt: skip
keys_app = typer.Typer(help="Token signing keys.", no_args_is_help=True)
partners_app = typer.Typer(help="Partners, their connectors and exchange terms.",
                           no_args_is_help=True)  # fmt: skip

CLI_OPERATOR = Principal(kind=PrincipalKind.OPERATOR, subject="cli")
CLI_ADMIN = Principal(PrincipalKind.OPERATOR, "cli", frozenset({Scope.ADMIN.value}))
T = TypeVar("T")


def client_command(work: Callable[[Database], Awaitable[T]]) -> T:
    """Run a client operation; a ClientError is the operator's mistake, said as such."""
    try:
        return with_db(Settings.from_env(), work)
    except clients.ClientError as error:
        raise typer.BadParameter(str(error)) from None


@clients_app.command("create")
def clients_create(
    name: str = typer.Option(..., "--name"),
    scopes: str = typer.Option(..., "--scopes", help="Space- or comma-separated scopes."),
    partner: str | None = typer.Option(None, "--partner", help="The partner's code."),
) -> None:
    """Register a client; prints its secret, which is not shown again."""

    async def create(db: Database) -> clients.NewClient:
        async with audit.audited(db, CLI_OPERATOR, "client.create", target=name):
            return await clients.create_client(
                db, name=name, scopes=scopes.replace(",", " ").split(), partner_code=partner
            )

    created = client_command(create)
    typer.echo(f"client_id:     {created.client_id}")
    typer.echo(f"client_secret: {created.client_secret}")
    typer.echo(f"scopes:        {' '.join(sorted(created.scopes))}")


@clients_app.command("list")
def clients_list() -> None:
    """Clients with their partner, scopes and status (never secrets)."""
    for row in with_db(Settings.from_env(), clients.list_clients):
        partner = row.partner_id if row.partner_id is not None else "internal"
        typer.echo(f"{row.client_id}\t{row.status}\tpartner={partner}\t{row.scopes}\t{row.name}")


@clients_app.command("rotate-secret")
def clients_rotate(
    client_id: str,
    grace_hours: float = typer.Option(24.0, "--grace-hours", help="How long the old secret works."),
) -> None:
    """A new secret; the old one keeps working for the grace period."""

    async def rotate(db: Database) -> str:
        async with audit.audited(db, CLI_OPERATOR, "client.rotate_secret", target=client_id):
            return await clients.rotate_secret(db, client_id, grace=timedelta(hours=grace_hours))

    secret = client_command(rotate)
    typer.echo(f"client_secret: {secret}")


@clients_app.command("scopes")
def clients_scopes(
    client_id: str,
    scopes: str = typer.Option(
        ...,
        "--scopes",
        help="The client's new scopes, space- or "
        "comma-separated (may widen them; admin never for a partner).",
    ),
) -> None:
    """Set a client's scopes: widening is an operator's decision, recorded in the audit log."""

    async def change(db: Database) -> None:
        async with audit.audited(db, CLI_OPERATOR, "client.scopes", target=client_id):
            await clients.update_client(
                db, client_id, scopes=scopes.replace(",", " ").split(), widen=True
            )

    client_command(change)
    typer.echo(f"{client_id}: {' '.join(sorted(scopes.replace(',', ' ').split()))}")


@clients_app.command("revoke")
def clients_revoke(client_id: str) -> None:
    """The client gets no more tokens, and its live tokens stop working now."""

    async def revoke(db: Database) -> None:
        async with audit.audited(db, CLI_OPERATOR, "client.revoke", target=client_id):
            await clients.revoke_client(db, client_id)

    client_command(revoke)
    typer.echo(f"revoked {client_id}")


async def _erase(db: Database, member_id: int) -> None:
    async with audit.audited(db, CLI_OPERATOR, "member.erase", target=f"member:{member_id}"):
        await erasure.erase_member(db, member_id)


@members_app.command("erase")
def members_erase(member_id: int) -> None:
    """Erase a member's personal data for good, keeping its books (docs/privacy.md)."""
    with_db(Settings.from_env(), lambda db: _erase(db, member_id))
    typer.echo(f"erased member {member_id}")


@members_app.command("erase-dormant")
def members_erase_dormant(
    days: int = typer.Option(..., "--days", min=30, help="Dormant longer than this."),
    at: str | None = typer.Option(None, "--at", help="As of this ISO date/time (default: now)."),
) -> None:
    """The retention job: erase members with no purchase, interaction or transfer for `days`
    (each audited as member.erase)."""

    async def work(db: Database) -> list[int]:
        chosen = await erasure.dormant_members(db, dormant_for=timedelta(days=days), now=moment(at))
        for member_id in chosen:
            await _erase(db, member_id)
        return chosen

    erased = with_db(Settings.from_env(), work)
    typer.echo(f"erased {len(erased)} dormant members")


MINUTES_OPTION = typer.Option(15, "--minutes", min=1, help="Lifetime of the token.")


def _mint(subject: str, scope: str, minutes: int) -> str:
    settings = Settings.from_env()

    async def work(db: Database) -> str:
        async with audit.audited(db, CLI_OPERATOR, "token.mint", target=subject):
            return await mint(
                db, settings.token_settings(), KeyCache(db, settings.token_settings()),
                subject=subject, scope=scope, lifetime=timedelta(minutes=minutes),
            )  # fmt: skip

    return with_db(settings, work)


@token_app.command("member")
def token_member(member_id: int, minutes: int = MINUTES_OPTION) -> None:
    """A member token (for development; members normally sign in with the identity provider)."""
    typer.echo(_mint(f"member:{member_id}", "", minutes))


@token_app.command("operator")
def token_operator(minutes: int = MINUTES_OPTION) -> None:
    """An operator token with the admin scope, for tools run by the operators."""
    typer.echo(_mint("operator:cli", "admin", minutes))


@keys_app.command("rotate")
def keys_rotate() -> None:
    """Sign with a new key from now on; the old keys stay published until their tokens expire."""
    kid = with_db(Settings.from_env(), lambda db: keys.rotate(db))
    typer.echo(f"signing with {kid}")


@keys_app.command("new-data-key")
def keys_new_data_key() -> None:
    """Print a new data key for POINTGATE_DATA_KEYS (secrets at rest are sealed with it)."""
    typer.echo(secrets.new_data_key())


@keys_app.command("reencrypt")
def keys_reencrypt() -> None:
    """Seal every stored secret and contact identity with the first data key (after putting a
    new key first), and hash the identities with the key derived from it."""

    async def reencrypt(db: Database) -> tuple[int, int]:
        return await reencrypt_secrets(db), await sealing.reseal(db)

    count, contacts = with_db(Settings.from_env(), reencrypt)
    typer.echo(f"re-encrypted {count} secrets and {contacts} contact identities")


@partners_app.command("create")
def partners_create(
    code: str = typer.Argument(..., help="The partner's code (lower case, dashes)."),
    name: str = typer.Option(..., "--name", help="The partner's display name."),
) -> None:
    """Register a partner (its code is its key: creating it again answers the same)."""
    row = with_db(Settings.from_env(), lambda db: registry.create_partner(db, code=code,
                                                                           name=name))  # fmt: skip
    typer.echo(f"partner {row.id} {row.code}")


@partners_app.command("list")
def partners_list() -> None:
    """Every partner: id, code, status, connector kind and name, tab-separated."""
    for row in with_db(Settings.from_env(), partial(registry.list_partners, visible=EVERYTHING)):
        typer.echo(f"{row.id}\t{row.code}\t{row.status}\t{row.connector_kind}\t{row.name}")


def partner_id_of(db: Database, code: str) -> Awaitable[int]:
    async def find() -> int:
        for row in await registry.list_partners(db, visible=EVERYTHING):
            if row.code == code:
                return int(row.id)
        raise typer.BadParameter(f"no partner has the code {code!r}")

    return find()


@partners_app.command("connector")
def partners_connector(
    code: str,
    kind: registry.ConnectorKind = typer.Option(..., "--kind", help="How the partner is called."),
    url: str | None = typer.Option(None, "--url", help="The HTTP connector's base URL."),
    secret: str | None = typer.Option(None, "--secret", help="The HMAC shared secret."),
) -> None:
    """How the gateway reaches the partner's program."""

    async def work(db: Database) -> None:
        await registry.update_partner(db, partner_id=await partner_id_of(db, code),
                                      connector_kind=kind, connector_url=url,
                                      connector_secret=secret)  # fmt: skip

    with_db(Settings.from_env(), work)
    typer.echo(f"{code}: {kind} connector")


@partners_app.command("promotion-limits")
def partners_promotion_limits(
    code: str,
    points: int | None = typer.Option(
        None, "--points", help="Points the partner's running campaigns may award in all."
    ),
    budget: str | None = typer.Option(
        None, "--budget", help="Money the partner's running coupon templates may give in all."
    ),
) -> None:
    """What a partner may fund (both start at 0: nothing)."""

    async def work(db: Database) -> Any:
        return await registry.update_partner(
            db, partner_id=await partner_id_of(db, code), campaign_points_limit=points,
            coupon_budget_limit=None if budget is None else Decimal(budget),
        )  # fmt: skip

    row = with_db(Settings.from_env(), work)
    typer.echo(f"{code}: campaigns up to {row.campaign_points_limit:,} points, coupon templates "
               f"up to {row.coupon_budget_limit:,}")  # fmt: skip


@partners_app.command("terms")
def partners_terms(
    code: str = typer.Argument(..., help="The partner's code."),
    direction: registry.Direction = typer.Option(
        ..., "--direction", help="OUTBOUND: points to the partner; INBOUND: from it."
    ),
    rate: str = typer.Option(..., "--rate", help="Program points per partner unit."),
    min_points: int = typer.Option(..., "--min", help="The fewest points one exchange moves."),
    max_points: int = typer.Option(..., "--max", help="The most points one exchange moves."),
    step_points: int = typer.Option(1, "--step", help="Exchanges move multiples of this."),
    daily_cap_points: int = typer.Option(
        ..., "--daily-cap", help="Points a member may exchange per day."
    ),
    fee_points: int = typer.Option(0, "--fee", help="Points charged per exchange."),
    valid_from: str | None = typer.Option(None, "--from", help="ISO date/time; default now."),
) -> None:
    """Add dated exchange terms for one direction."""
    terms = registry.Terms(rate=Decimal(rate), min_points=min_points, max_points=max_points,
                           step_points=step_points, daily_cap_points=daily_cap_points,
                           fee_points=fee_points)  # fmt: skip

    async def work(db: Database) -> None:
        await registry.set_exchange_terms(db, partner_id=await partner_id_of(db, code),
                                          direction=direction, terms=terms,
                                          valid_from=moment(valid_from))  # fmt: skip

    with_db(Settings.from_env(), work)
    typer.echo(f"{code}: {direction} terms from {valid_from or 'now'}")


@partners_app.command("simulate")
def partners_simulate(
    secret: str = typer.Option(..., "--secret", help="The HMAC shared secret to expect."),
    host: str = typer.Option("127.0.0.1", "--host", help="The address to listen on."),
    port: int = typer.Option(9100, "--port", help="The port to listen on."),
    fault_rate: float = typer.Option(
        0.0,
        "--fault-rate",
        min=0.0,
        max=1.0,
        help="The share of calls that meet a random fault (timeout, 5xx, refusal, lost answer, "
        "slowness).",
    ),
) -> None:
    """Serve a simulated partner program over the HTTP connector protocol (for trials: point a
    partner's HTTP connector at it)."""
    partner = SimulatedPartner(name="simulated", fault_rate=fault_rate)
    uvicorn.run(simulated_app(partner, secret), host=host, port=port, log_level="warning")


@partners_app.command("rate-card")
def partners_rate_card(
    code: str,
    valid_from: str | None = typer.Option(None, "--from", help="ISO date/time; default now."),
    issuance_cost: str = typer.Option("0.008", "--issuance-cost", help="Per point issued."),
    redemption_commission: str = typer.Option("3", "--redemption-commission", help="Percent."),
    outbound_unit_price: str = typer.Option("0.02", "--outbound-unit-price"),
    exchange_commission: str = typer.Option("2", "--exchange-commission", help="Percent."),
    platform_fee: str = typer.Option("0", "--platform-fee", help="Per month."),
    api_fee: str = typer.Option("0", "--api-fee", help="Per API transaction."),
    point_value: str = typer.Option("0.01", "--point-value", help="In settlement currency."),
) -> None:
    """Add a dated rate card (amounts in the partner's settlement currency)."""
    terms = rate_card.RateCardTerms(
        point_value=Decimal(point_value), issuance_cost_per_point=Decimal(issuance_cost),
        redemption_commission_percent=Decimal(redemption_commission),
        outbound_unit_price=Decimal(outbound_unit_price),
        exchange_commission_percent=Decimal(exchange_commission),
        platform_fee_monthly=Decimal(platform_fee), api_transaction_fee=Decimal(api_fee),
    )  # fmt: skip

    async def work(db: Database) -> None:
        await rate_card.add_rate_card(db, partner_id=await partner_id_of(db, code), terms=terms,
                                      valid_from=moment(valid_from))  # fmt: skip

    with_db(Settings.from_env(), work)
    typer.echo(f"{code}: rate card from {valid_from or 'now'}")


operations_app = typer.Typer(help="Registered operations for allow-list mode.",
                             no_args_is_help=True)  # fmt: skip


@operations_app.command("register")
def operations_register(files: list[Path]) -> None:
    """Register every operation in the given .graphql files (each with the fragments of its
    file); prints each operation's sha256, the hash clients send as their persisted query."""
    documents: dict[str, str] = {}
    for file in files:
        parsed = parse(file.read_text())
        fragments = [d for d in parsed.definitions if isinstance(d, FragmentDefinitionNode)]
        for definition in parsed.definitions:
            if isinstance(definition, OperationDefinitionNode):
                if definition.name is None:
                    raise typer.BadParameter(f"{file}: every registered operation has a name")
                text = print_ast(DocumentNode(definitions=(definition, *fragments)))
                documents[definition.name.value] = text
    hashes = with_db(Settings.from_env(), lambda db: register_operations(db, documents))
    for name, digest in zip(documents, hashes, strict=True):
        typer.echo(f"{digest}  {name}")


console_app = typer.Typer(help="People of the console: operators and partner staff.",
                          no_args_is_help=True)  # fmt: skip


@console_app.command("invite")
def console_invite(
    email: str = typer.Option(..., "--email"),
    partner: str | None = typer.Option(
        None, "--partner", help="The partner's code: the person is its staff (else an operator)."
    ),
    base_url: str = typer.Option(
        "http://127.0.0.1:8000", "--base-url", help="Where people reach the gateway."
    ),
) -> None:
    """Invite a person; prints the invitation link (good for 7 days, shown once)."""

    async def invite(db: Database) -> console.Invitation:
        partner_id = await partner_id_of(db, partner) if partner else None
        role = console.Role.PARTNER_STAFF if partner_id is not None else console.Role.OPERATOR
        return await console.invite(db, CLI_ADMIN, email=email, role=role, partner_id=partner_id)

    try:
        made = with_db(Settings.from_env(), invite)
    except DomainError as error:
        raise typer.BadParameter(error.message) from None
    typer.echo(f"invited {made.user.email} ({made.user.role}); send them this link:")
    typer.echo(f"{base_url.rstrip('/')}/console/invitations/{made.token}")
