"""The one place configuration is read from: the environment and an optional program TOML file."""

from __future__ import annotations

import os
import tomllib
from collections.abc import Mapping
from dataclasses import dataclass, field
from datetime import timedelta
from pathlib import Path

from auth.tokens import TokenSettings
from infra import secrets
from loyalty.program import Program
from partners.egress import EgressPolicy
from schema.limits import Limits

DEFAULT_DATABASE_URL = "sqlite+aiosqlite:///./pointgate.db"
DEFAULT_DATA_KEY_FILE = "pointgate-data.key"


@dataclass(frozen=True, slots=True)
class Settings:
    database_url: str = DEFAULT_DATABASE_URL
    environment: str = "production"
    program: Program = field(default_factory=Program)
    database_pool_size: int = 10
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
    # Partner connectors: per-call timeout, the deadline of a live balance read, and the
    # background jobs in `serve` (reconciliation, webhook deliveries), off unless enabled.
    connector_timeout_seconds: float = 5.0
    partner_balance_deadline_seconds: float = 2.0
    background_jobs: bool = False
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
        values: dict[str, object] = {
            "database_url": env.get("DATABASE_URL", DEFAULT_DATABASE_URL),
            "environment": env.get("POINTGATE_ENV", "production"),
            "program": program,
            "database_pool_size": int(env.get("POINTGATE_DB_POOL_SIZE", "10")),
            "traces_exporter": env.get("OTEL_TRACES_EXPORTER", "none"),
            "metrics_exporter": env.get("OTEL_METRICS_EXPORTER", "none"),
            "issuer": env.get("POINTGATE_ISSUER", "http://127.0.0.1:8000"),
            "audience": env.get("POINTGATE_AUDIENCE", "pointgate"),
            "access_token_seconds": int(env.get("POINTGATE_ACCESS_TOKEN_SECONDS", "900")),
            "jwks_cache_seconds": int(env.get("POINTGATE_JWKS_CACHE_SECONDS", "300")),
            "member_issuer": env.get("POINTGATE_MEMBER_ISSUER") or None,
            "member_jwks_url": env.get("POINTGATE_MEMBER_JWKS_URL") or None,
            "member_audience": env.get("POINTGATE_MEMBER_AUDIENCE") or None,
            "connector_timeout_seconds": float(env.get("POINTGATE_CONNECTOR_TIMEOUT", "5")),
            "partner_balance_deadline_seconds": float(
                env.get("POINTGATE_PARTNER_BALANCE_DEADLINE", "2")
            ),
            "background_jobs": env.get("POINTGATE_BACKGROUND_JOBS", "0").lower()
            in ("1", "true", "yes"),
            "reconcile_after_seconds": int(env.get("POINTGATE_RECONCILE_AFTER_SECONDS", "300")),
            "max_depth": int(env.get("POINTGATE_MAX_DEPTH", "10")),
            "max_aliases": int(env.get("POINTGATE_MAX_ALIASES", "15")),
            "max_tokens": int(env.get("POINTGATE_MAX_TOKENS", "2000")),
            "max_cost": int(env.get("POINTGATE_MAX_COST", "20000")),
            "max_input_list": int(env.get("POINTGATE_MAX_INPUT_LIST", "100")),
            "max_fragment_spreads": int(env.get("POINTGATE_MAX_FRAGMENT_SPREADS", "100")),
            "max_directives": int(env.get("POINTGATE_MAX_DIRECTIVES", "30")),
            "max_representations": int(env.get("POINTGATE_MAX_REPRESENTATIONS", "1000")),
            "max_body_bytes": int(env.get("POINTGATE_MAX_BODY_BYTES", "1000000")),
            "cors_origins": tuple(
                o.strip() for o in env.get("POINTGATE_CORS_ORIGINS", "").split(",") if o.strip()
            ),
            "webhook_allow_hosts": tuple(
                h.strip()
                for h in env.get("POINTGATE_WEBHOOK_ALLOW_HOSTS", "").split(",")
                if h.strip()
            ),
            "router_token": env.get("POINTGATE_ROUTER_TOKEN") or None,
            "redis_url": env.get("REDIS_URL") or None,
            "persisted_only": env.get("POINTGATE_PERSISTED_ONLY", "0").lower()
            in ("1", "true", "yes"),
            "data_keys": tuple(
                k.strip() for k in env.get("POINTGATE_DATA_KEYS", "").split(",") if k.strip()
            ),
            "data_key_file": env.get("POINTGATE_DATA_KEY_FILE") or None,
            "rate_limit_per_minute": int(env.get("POINTGATE_RATE_LIMIT_PER_MINUTE", "600")),
            "rate_limit_burst": int(env.get("POINTGATE_RATE_LIMIT_BURST", "120")),
        }
        values.update(overrides)
        return cls(**values)  # type: ignore[arg-type]
