"""Which connector reaches which partner. Built once per process: HTTP connectors keep their
connection pools and circuit breakers, simulated partners keep their state between calls."""

from __future__ import annotations

from typing import Any

import httpx

from partners.connector import Connector
from partners.http_connector import HttpConnector
from partners.registry import ConnectorKind
from partners.simulated import SimulatedConnector, SimulatedPartner


class ConnectorDirectory:
    def __init__(
        self,
        *,
        timeout: float = 5.0,
        transport: httpx.AsyncBaseTransport | None = None,
    ) -> None:
        self.timeout = timeout
        self.transport = transport
        self._simulated: dict[int, SimulatedPartner] = {}
        self._http: dict[tuple[int, str, str], HttpConnector] = {}

    def simulated(self, partner_id: int) -> SimulatedPartner:
        """The in-process partner program behind a SIMULATED partner (tests inject faults)."""
        return self._simulated.setdefault(
            partner_id, SimulatedPartner(name=f"partner {partner_id}")
        )

    def for_partner(self, partner: Any) -> Connector:
        if partner.connector_kind == ConnectorKind.HTTP:
            key = (partner.id, partner.connector_url, partner.connector_secret)
            if key not in self._http:
                self._http[key] = HttpConnector(
                    partner.connector_url,
                    partner.connector_secret,
                    timeout=self.timeout,
                    transport=self.transport,
                    name=partner.code,
                )
            return self._http[key]
        return SimulatedConnector(self.simulated(partner.id))

    async def close(self) -> None:
        for connector in self._http.values():
            await connector.close()
