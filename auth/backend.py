"""The resource side: a Starlette authentication backend that turns a bearer token into the
request's Principal. No Authorization header means an anonymous request (fields that need a
principal then answer UNAUTHENTICATED); a bearer token that does not verify is a 401."""

from __future__ import annotations

from starlette.authentication import (
    AuthCredentials,
    AuthenticationBackend,
    AuthenticationError,
    BaseUser,
)
from starlette.requests import HTTPConnection
from starlette.responses import JSONResponse, Response

from auth.principal import ANONYMOUS, Principal
from auth.tokens import InvalidToken, TokenVerifier
from infra.database import is_transient

OAUTH_PATH_PREFIX = "/oauth/"


class PrincipalUser(BaseUser):
    def __init__(self, principal: Principal) -> None:
        self.principal = principal

    @property
    def is_authenticated(self) -> bool:
        return True

    @property
    def display_name(self) -> str:
        return self.principal.subject


class BearerTokenBackend(AuthenticationBackend):
    def __init__(self, verifier: TokenVerifier) -> None:
        self.verifier = verifier

    async def authenticate(self, conn: HTTPConnection) -> tuple[AuthCredentials, BaseUser] | None:
        scheme, _, token = conn.headers.get("authorization", "").partition(" ")
        # Other schemes (HTTP Basic at the token endpoint) are not ours to judge, nor are the
        # OAuth endpoints' own credentials (a registration access token is not a JWT).
        # The scope's path, not `conn.url` (which builds the whole URL: ~10 µs a request).
        if scheme.lower() != "bearer" or conn.scope["path"].startswith(OAUTH_PATH_PREFIX):
            return None
        try:
            principal = await self.verifier.principal(token.strip())
        except InvalidToken as error:
            raise AuthenticationError(str(error)) from None
        except Exception as error:
            if is_transient(error):
                raise DatabaseUnavailable("the service is temporarily unavailable") from error
            raise
        return AuthCredentials(sorted(principal.scopes)), PrincipalUser(principal)


def principal_of(conn: HTTPConnection) -> Principal:
    user = conn.scope.get("user")
    return user.principal if isinstance(user, PrincipalUser) else ANONYMOUS


class DatabaseUnavailable(AuthenticationError):
    """The token could not be checked: not the client's fault, worth a retry."""


def on_authentication_error(conn: HTTPConnection, error: Exception) -> Response:
    """A GraphQL-shaped 401, so clients read it like any other error (503 when the token
    could not be checked at all)."""
    if isinstance(error, DatabaseUnavailable):
        body = {
            "errors": [
                {
                    "message": str(error),
                    "extensions": {"code": "SERVICE_UNAVAILABLE", "retryable": True},
                }
            ]
        }
        return JSONResponse(body, status_code=503, headers={"Retry-After": "2"})  # fmt: skip
    body = {"errors": [{"message": str(error), "extensions": {"code": "UNAUTHENTICATED"}}]}
    headers = {"WWW-Authenticate": 'Bearer error="invalid_token"'}
    return JSONResponse(body, status_code=401, headers=headers)
