"""The one place configuration is read from: the environment and an optional program TOML file."""

from __future__ import annotations

import os
import tomllib
from collections.abc import Mapping
from dataclasses import dataclass, field
from pathlib import Path

from loyalty.program import Program

DEFAULT_DATABASE_URL = "sqlite+aiosqlite:///./pointgate.db"


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
        }
        values.update(overrides)
        return cls(**values)  # type: ignore[arg-type]
