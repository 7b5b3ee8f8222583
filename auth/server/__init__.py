"""The OAuth 2.0 authorization server: Authlib's generic server, client-credentials grant,
RFC 9068 token generator and RFC 7662/7009/7591/7592 endpoints, behind Starlette.

Authlib's server code is synchronous, so each request runs it in a worker thread; the few
places where it needs the database (find a client, record a token, ...) hop back to the event
loop with `anyio.from_thread.run` (`adapters`)."""

from auth.server.discovery import metadata
from auth.server.endpoints import routes

__all__ = ["metadata", "routes"]
