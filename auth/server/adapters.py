"""The small part Authlib leaves to a framework integration: a Starlette request as Authlib's
request objects, its (status, body, headers) answers as Starlette responses, and the bridge
from Authlib's worker thread back to the event loop for the database."""

from __future__ import annotations

from collections import defaultdict
from collections.abc import Callable, Coroutine
from typing import Any, TypeVar

import orjson
from anyio import from_thread
from authlib.oauth2 import OAuth2Error
from authlib.oauth2.rfc6749 import (
    JsonPayload,
    JsonRequest,
    OAuth2Payload,
    OAuth2Request,
)
from starlette.requests import Request
from starlette.responses import Response

from auth.tokens import (
    KeyCache,
    TokenSettings,
    TokenVerifier,
)
from infra.database import Database

T = TypeVar("T")


class FormPayload(OAuth2Payload):  # type: ignore[misc]
    def __init__(self, items: list[tuple[str, str]]) -> None:
        self._data = dict(items)
        self._datalist: defaultdict[str, list[str]] = defaultdict(list)
        for key, value in items:
            self._datalist[key].append(value)

    @property
    def data(self) -> dict[str, str]:
        return self._data

    @property
    def datalist(self) -> defaultdict[str, list[str]]:
        return self._datalist


class FormRequest(OAuth2Request):  # type: ignore[misc]
    def __init__(self, request: Request, items: list[tuple[str, str]]) -> None:
        super().__init__(request.method, str(request.url), headers=request.headers)
        self.payload = FormPayload(items)
        self._query = request.query_params

    @property
    def args(self) -> Any:
        return self._query

    @property
    def form(self) -> dict[str, str]:
        return self.payload.data  # type: ignore[no-any-return]


class BodyPayload(JsonPayload):  # type: ignore[misc]
    def __init__(self, data: Any) -> None:
        self._data = data

    @property
    def data(self) -> Any:
        return self._data


class BodyRequest(JsonRequest):  # type: ignore[misc]
    def __init__(self, request: Request, data: Any) -> None:
        super().__init__(request.method, str(request.url), request.headers)
        self.payload = BodyPayload(data)
        self.path_params = request.path_params


class Bridge:
    """Runs the database side of Authlib's synchronous calls on the event loop."""

    def __init__(self, db: Database, settings: TokenSettings, keys: KeyCache) -> None:
        self.db = db
        self.settings = settings
        self.keys = keys
        self.verifier = TokenVerifier(db, settings, keys)

    def run(self, function: Callable[..., Coroutine[Any, Any, T]], *args: Any) -> T:
        return from_thread.run(function, *args)


def respond(status: int, body: Any, headers: Any) -> Response:
    headers = dict(headers or [])
    headers.pop("Content-Type", None)
    if status == 204 or body in ("", None):
        return Response(status_code=status, headers=headers)
    content = body if isinstance(body, str | bytes) else orjson.dumps(body)
    return Response(content, status_code=status, headers=headers, media_type="application/json")


def call_endpoint(server: Any, endpoint: Any, request: Any) -> tuple[int, Any, Any]:
    try:
        return endpoint(request)  # type: ignore[no-any-return]
    except OAuth2Error as error:
        return error.status_code, dict(error.get_body()), error.get_headers()
