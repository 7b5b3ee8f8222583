"""RFC 8414 authorization server metadata: what a client discovers about this server."""

from __future__ import annotations

from typing import Any

from auth import clients
from auth.principal import ALL_SCOPES
from auth.tokens import TokenSettings

AUTH_METHODS = list(clients.AUTH_METHODS)


def metadata(settings: TokenSettings) -> dict[str, Any]:
    """RFC 8414 authorization server metadata."""
    issuer = settings.issuer
    return {
        "issuer": issuer,
        "token_endpoint": f"{issuer}/oauth/token",
        "jwks_uri": f"{issuer}/.well-known/jwks.json",
        "registration_endpoint": f"{issuer}/oauth/register",
        "introspection_endpoint": f"{issuer}/oauth/introspect",
        "revocation_endpoint": f"{issuer}/oauth/revoke",
        "scopes_supported": sorted(ALL_SCOPES),
        "response_types_supported": [],
        "grant_types_supported": [clients.CLIENT_CREDENTIALS],
        "token_endpoint_auth_methods_supported": AUTH_METHODS,
        "introspection_endpoint_auth_methods_supported": AUTH_METHODS,
        "revocation_endpoint_auth_methods_supported": AUTH_METHODS,
    }
