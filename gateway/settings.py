"""The one place configuration is read from: the environment and an optional program TOML file."""

from __future__ import annotations

import os
import tomllib
from collections.abc import Callable, Mapping
from dataclasses import dataclass, field, fields
from datetime import timedelta
from pathlib import Path

from auth.tokens import TokenSettings
from infra import secrets
from loyalty.program import Program
from partners.egress import EgressPolicy
from schema.limits import Limits

DEFAULT_DATABASE_URL = "sqlite+aiosqlite:///./pointgate.db"
DEFAULT_DATA_KEY_FILE = "pointgate-data.key"


def _split(value: str) -> tuple[str, ...]:
    return tuple(part.strip() for part in value.split(",") if part.strip())


# How each type of setting is read from its variable; an unset variable leaves the default.
# Connections left for migrations, background jobs and administrators (`Settings.pool_size`).
RESERVED_CONNECTIONS = 10

PARSERS: dict[str, Callable[[str], object]] = {
    "str": str,
    "str | None": lambda value: value or None,
    "int": int,
    "float": float,
    "bool": lambda value: value.lower() in ("1", "true", "yes"),
    "tuple[str, ...]": _split,
}


@dataclass(frozen=True, slots=True)
class Settings:
    database_url: str = DEFAULT_DATABASE_URL
    environment: str = "production"
    program: Program = field(default_factory=Program)
    # PostgreSQL connections per worker; 0: sized from the two below (`pool_size`). The pool
    # never opens more: a request waits up to `database_pool_timeout_seconds` for one.
    database_pool_size: int = 0
    database_max_connections: int = 100
    # The database server's CPU cores; 0: this machine's (`pool_size`).
    database_cores: int = 0
    workers: int = 1
    database_pool_timeout_seconds: float = 10.0
    # OpenTelemetry exporters: "none", "console" or "otlp" (the OTLP endpoint itself is read by
    # the exporter from OTEL_EXPORTER_OTLP_ENDPOINT, as the SDK specifies).
    traces_exporter: str = "none"
    metrics_exporter: str = "none"
    # OAuth: this gateway's issuer URL (the `iss` of its tokens) and the audience they are for.
    issuer: str = "http://127.0.0.1:8000"
    audience: str = "pointgate"
    access_token_seconds: int = 900
    # How long a JWKS may sit in a cache: retired keys stay published this much longer.
    jwks_cache_seconds: int = 300
    # Members' identity provider: tokens from this issuer, verified with keys at this JWKS URL.
    member_issuer: str | None = None
    member_jwks_url: str | None = None
    member_audience: str | None = None
    # Operators' sign-in to the console through the company's OpenID Connect provider (its
    # discovery document's URL, and the console's client there); off unless all three are set.
    console_oidc_metadata_url: str | None = None
    console_oidc_client_id: str | None = None
    console_oidc_client_secret: str | None = None
    # Partner connectors: per-call timeout, the deadline of a live balance read, and the
    # background jobs in `serve` (reconciliation, webhook deliveries), off unless enabled.
    connector_timeout_seconds: float = 5.0
    partner_balance_deadline_seconds: float = 2.0
    background_jobs: bool = False
    # Plannable queries as one SQL statement on PostgreSQL (resolvers.compiled); off: every
    # operation takes the general path (for comparison and diagnosis).
    compiled_reads: bool = True
    reconcile_after_seconds: int = 300
    # Abuse limits (see README "Production mode").
    max_depth: int = 10
    max_aliases: int = 15
    max_tokens: int = 2000
    max_cost: int = 20_000
    max_input_list: int = 100
    max_fragment_spreads: int = 100
    max_directives: int = 30
    max_representations: int = 1000
    max_body_bytes: int = 1_000_000
    cors_origins: tuple[str, ...] = ()
    # Hosts webhooks may reach although they are private or loopback (a development receiver);
    # every other webhook address must be public, and https outside development.
    webhook_allow_hosts: tuple[str, ...] = ()
    # The federation router's credential (header X-Pointgate-Router): it may read the SDL, and
    # the fetches it makes for one client operation are billed and rate-limited once.
    router_token: str | None = None
    # Shared store for persisted queries and rate limits; in-process memory without it.
    redis_url: str | None = None
    # Allow-list mode: only operations registered with `pointgate operations register` run.
    persisted_only: bool = False
    # Data keys that seal secrets at rest (infra.secrets): the first encrypts, all decrypt.
    data_keys: tuple[str, ...] = ()
    data_key_file: str | None = None
    rate_limit_per_minute: int = 600
    rate_limit_burst: int = 120
    # Live subscriptions one client, member or operator may hold open at once, per worker.
    live_subscriptions_per_principal: int = 20

    def token_settings(self) -> TokenSettings:
        return TokenSettings(
            issuer=self.issuer.rstrip("/"),
            audience=self.audience,
            lifetime=timedelta(seconds=self.access_token_seconds),
            jwks_cache=timedelta(seconds=self.jwks_cache_seconds),
            member_issuer=self.member_issuer,
            member_jwks_url=self.member_jwks_url,
            member_audience=self.member_audience,
        )

    def pool_size(self) -> int:
        """The connections each worker keeps: what keeps the database's cores busy, 2 x
        cores + 1 (statements beyond that only wait for a core inside PostgreSQL, each taking
        longer: bench/side_by_side.py), shared by the workers, at least 8 per worker (a
        connection is held until the worker's event loop reads the answer, behind other
        requests' Python: with 5, a member app's view ran 7 % slower), and never more than
        their part of `max_connections` less what migrations, jobs and administrators need."""
        if self.database_pool_size > 0:
            return self.database_pool_size
        cores = self.database_cores or os.cpu_count() or 1
        workers = max(1, self.workers)
        busy = max(8, -(-(2 * cores + 1) // workers))
        share = (self.database_max_connections - RESERVED_CONNECTIONS) // workers
        return max(1, min(busy, share))

    def limits(self) -> Limits:
        return Limits(
            max_depth=self.max_depth,
            max_aliases=self.max_aliases,
            max_cost=self.max_cost,
            max_fragment_spreads=self.max_fragment_spreads,
            max_directives=self.max_directives,
            max_input_list=self.max_input_list,
            max_representations=self.max_representations,
        )

    def egress(self) -> EgressPolicy:
        return EgressPolicy(
            https_only=not self.is_development, allow_hosts=frozenset(self.webhook_allow_hosts)
        )

    def keyring(self) -> secrets.Keyring:
        """POINTGATE_DATA_KEYS, else POINTGATE_DATA_KEY_FILE, else ./pointgate-data.key (made
        with a new key in development; production must be given its keys)."""
        if self.data_keys:
            return secrets.Keyring.from_text(list(self.data_keys))
        path = Path(self.data_key_file or DEFAULT_DATA_KEY_FILE)
        if not path.exists() and not self.is_development:
            raise secrets.SecretsError(
                "no data key: set POINTGATE_DATA_KEYS or POINTGATE_DATA_KEY_FILE"
                " (make a key with `pointgate keys new-data-key`)"
            )
        return secrets.Keyring.from_text(secrets.read_key_file(path, create=True))

    @property
    def is_development(self) -> bool:
        return self.environment == "development"

    @classmethod
    def from_env(cls, env: Mapping[str, str] | None = None, **overrides: object) -> Settings:
        env = os.environ if env is None else env
        program = Program()
        program_file = env.get("POINTGATE_PROGRAM")
        if program_file:
            with Path(program_file).open("rb") as handle:
                program = Program.from_mapping(tomllib.load(handle).get("program", {}))
        values: dict[str, object] = {"program": program}
        for setting in fields(cls):
            name = ENVIRONMENT.get(setting.name)
            if name is not None and name in env:
                values[setting.name] = PARSERS[str(setting.type)](env[name])
        values.update(overrides)
        return cls(**values)  # type: ignore[arg-type]


# The variable each setting is read from (README "Configuration"); defaults are the fields'.
ENVIRONMENT: dict[str, str] = {
    "database_url": "DATABASE_URL",
    "environment": "POINTGATE_ENV",
    "database_pool_size": "POINTGATE_DB_POOL_SIZE",
    "database_max_connections": "POINTGATE_DB_MAX_CONNECTIONS",
    "database_cores": "POINTGATE_DB_CORES",
    "database_pool_timeout_seconds": "POINTGATE_DB_POOL_TIMEOUT",
    "workers": "POINTGATE_WORKERS",
    "traces_exporter": "OTEL_TRACES_EXPORTER",
    "metrics_exporter": "OTEL_METRICS_EXPORTER",
    "issuer": "POINTGATE_ISSUER",
    "audience": "POINTGATE_AUDIENCE",
    "access_token_seconds": "POINTGATE_ACCESS_TOKEN_SECONDS",
    "jwks_cache_seconds": "POINTGATE_JWKS_CACHE_SECONDS",
    "member_issuer": "POINTGATE_MEMBER_ISSUER",
    "member_jwks_url": "POINTGATE_MEMBER_JWKS_URL",
    "member_audience": "POINTGATE_MEMBER_AUDIENCE",
    "console_oidc_metadata_url": "POINTGATE_CONSOLE_OIDC_METADATA_URL",
    "console_oidc_client_id": "POINTGATE_CONSOLE_OIDC_CLIENT_ID",
    "console_oidc_client_secret": "POINTGATE_CONSOLE_OIDC_CLIENT_SECRET",
    "connector_timeout_seconds": "POINTGATE_CONNECTOR_TIMEOUT",
    "partner_balance_deadline_seconds": "POINTGATE_PARTNER_BALANCE_DEADLINE",
    "background_jobs": "POINTGATE_BACKGROUND_JOBS",
    "compiled_reads": "POINTGATE_COMPILED_READS",
    "reconcile_after_seconds": "POINTGATE_RECONCILE_AFTER_SECONDS",
    "max_depth": "POINTGATE_MAX_DEPTH",
    "max_aliases": "POINTGATE_MAX_ALIASES",
    "max_tokens": "POINTGATE_MAX_TOKENS",
    "max_cost": "POINTGATE_MAX_COST",
    "max_input_list": "POINTGATE_MAX_INPUT_LIST",
    "max_fragment_spreads": "POINTGATE_MAX_FRAGMENT_SPREADS",
    "max_directives": "POINTGATE_MAX_DIRECTIVES",
    "max_representations": "POINTGATE_MAX_REPRESENTATIONS",
    "max_body_bytes": "POINTGATE_MAX_BODY_BYTES",
    "cors_origins": "POINTGATE_CORS_ORIGINS",
    "webhook_allow_hosts": "POINTGATE_WEBHOOK_ALLOW_HOSTS",
    "router_token": "POINTGATE_ROUTER_TOKEN",
    "redis_url": "REDIS_URL",
    "persisted_only": "POINTGATE_PERSISTED_ONLY",
    "data_keys": "POINTGATE_DATA_KEYS",
    "data_key_file": "POINTGATE_DATA_KEY_FILE",
    "rate_limit_per_minute": "POINTGATE_RATE_LIMIT_PER_MINUTE",
    "rate_limit_burst": "POINTGATE_RATE_LIMIT_BURST",
    "live_subscriptions_per_principal": "POINTGATE_LIVE_SUBSCRIPTIONS_PER_PRINCIPAL",
}
