"""The served protocol (gateway.http): a response goes out in one write, and nothing else about
HTTP changes (keep-alive, large bodies, streaming, closing)."""

from __future__ import annotations

import asyncio
import socket
import threading
import time
from collections.abc import Iterator

import httpx
import pytest
import uvicorn
from starlette.applications import Starlette
from starlette.requests import Request
from starlette.responses import Response, StreamingResponse
from starlette.routing import Route

from gateway.http import PROTOCOL, CorkedTransport


class Recording:
    def __init__(self) -> None:
        self.writes: list[bytes] = []
        self.closed = False

    def write(self, data: bytes) -> None:
        assert not self.closed
        self.writes.append(data)

    def is_closing(self) -> bool:
        return self.closed

    def close(self) -> None:
        self.closed = True

    def get_write_buffer_size(self) -> int:
        return 7


async def test_the_writes_of_one_step_go_out_as_one():
    recording = Recording()
    corked = CorkedTransport(recording, asyncio.get_running_loop())  # type: ignore[arg-type]
    corked.write(b"HTTP/1.1 200 OK\r\n\r\n")
    corked.write(b"body")
    assert recording.writes == []  # held until the step ends, not longer
    await asyncio.sleep(0)
    assert recording.writes == [b"HTTP/1.1 200 OK\r\n\r\nbody"]
    corked.write(b"next")
    await asyncio.sleep(0)
    assert recording.writes[1:] == [b"next"]
    assert corked.get_write_buffer_size() == 7  # everything else is the transport's own


async def test_closing_sends_what_is_pending_first_and_nothing_after():
    recording = Recording()
    corked = CorkedTransport(recording, asyncio.get_running_loop())  # type: ignore[arg-type]
    corked.write(b"HTTP/1.1 400 Bad Request\r\n\r\n")
    corked.close()
    assert recording.writes == [b"HTTP/1.1 400 Bad Request\r\n\r\n"] and recording.closed
    corked.write(b"late")
    await asyncio.sleep(0)
    assert recording.writes == [b"HTTP/1.1 400 Bad Request\r\n\r\n"]


async def small(_: Request) -> Response:
    return Response(b"ok", media_type="text/plain")


async def large(_: Request) -> Response:
    return Response(b"x" * 3_000_000, media_type="application/octet-stream")


async def streamed(_: Request) -> StreamingResponse:
    async def chunks():
        for n in range(5):
            yield f"chunk {n}\n".encode()
            await asyncio.sleep(0.01)

    return StreamingResponse(chunks(), media_type="text/plain")


@pytest.fixture
def served() -> Iterator[str]:
    app = Starlette(routes=[Route("/small", small), Route("/large", large),
                            Route("/streamed", streamed)])  # fmt: skip
    with socket.socket() as probe:
        probe.bind(("127.0.0.1", 0))
        port = probe.getsockname()[1]
    server = uvicorn.Server(
        uvicorn.Config(app, host="127.0.0.1", port=port, log_level="warning", http=PROTOCOL)
    )
    thread = threading.Thread(target=server.run, daemon=True)
    thread.start()
    while not server.started:
        time.sleep(0.01)
    yield f"http://127.0.0.1:{port}"
    server.should_exit = True
    thread.join(timeout=10)


def test_a_served_connection_keeps_alive_and_carries_any_body(served):
    with httpx.Client(base_url=served) as client:
        for _ in range(50):  # one connection, many small answers
            answer = client.get("/small")
            assert answer.status_code == 200 and answer.text == "ok"
        assert client.get("/large").content == b"x" * 3_000_000  # flow control still holds
        assert client.get("/streamed").text == "".join(f"chunk {n}\n" for n in range(5))
        assert client.get("/small").text == "ok"
