"""GraphiQL is served from the package: its page names only the gateway's own files, and each
file is the one its integrity attribute pins (the bytes of the npm release, VENDORED.md)."""

from __future__ import annotations

import base64
import hashlib
import re
from dataclasses import replace

from gateway.app import create_app
from tests.conftest import http_client


async def test_the_ide_page_loads_only_the_gateways_own_pinned_assets(client):
    page = await client.get("/graphql", headers={"accept": "text/html"})

    assert page.status_code == 200 and "GraphiQL" in page.text
    assets = re.findall(r'(?:src|href)="([^"]+)"\s+integrity="(sha384-[^"]+)"', page.text)
    assert len(assets) == 6
    assert not re.search(r'(?:src|href)="(?!/graphiql/|data:)', page.text)
    for path, integrity in assets:
        served = await client.get(path)
        digest = base64.b64encode(hashlib.sha384(served.content).digest()).decode()
        assert served.status_code == 200 and integrity == f"sha384-{digest}", path


async def test_production_serves_no_ide(db, settings):
    production = create_app(replace(settings, environment="production"), db)
    async with http_client(production) as anonymous:
        page = await anonymous.get("/graphql", headers={"accept": "text/html"})
        asset = await anonymous.get("/graphiql/graphiql.min.js")

    assert page.status_code != 200 or "GraphiQL" not in page.text
    assert asset.status_code == 404
