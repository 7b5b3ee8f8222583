"""The development IDE: GraphiQL's page and its scripts and styles, served from the package
(gateway/static/graphiql, see VENDORED.md there), so the demo's IDE works without internet."""

from __future__ import annotations

from functools import cache
from pathlib import Path

from starlette.routing import Mount
from starlette.staticfiles import StaticFiles

ASSETS = Path(__file__).parent / "static" / "graphiql"


@cache
def page() -> str:
    return (ASSETS / "index.html").read_text(encoding="utf-8")


def routes() -> list[Mount]:
    """/graphiql/<file>: the page's assets (the page itself is /graphql, asked for as HTML)."""
    return [Mount("/graphiql", app=StaticFiles(directory=ASSETS), name="graphiql")]
