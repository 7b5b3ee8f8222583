"""The README's demo command works from an empty folder: it migrates, seeds and serves, and
the other commands then work on its database."""

from __future__ import annotations

import json
import os
import signal
import socket
import subprocess
import sys
import time
from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path

import httpx

MEMBERS = "{ members(first: 3) { edges { node { id displayName balance { available } } } } }"


def _free_port() -> int:
    with socket.socket() as probe:
        probe.bind(("127.0.0.1", 0))
        return probe.getsockname()[1]


def wait_until_ready(server: subprocess.Popen, port: int, seconds: float) -> None:
    deadline = time.monotonic() + seconds
    while True:
        assert server.poll() is None, "the demo stopped on its own"
        try:
            if httpx.get(f"http://127.0.0.1:{port}/readyz").status_code == 200:
                return
        except httpx.TransportError:
            pass
        assert time.monotonic() < deadline, f"the demo did not become ready within {seconds} s"
        time.sleep(0.2)


@contextmanager
def running_demo(folder: Path) -> Iterator[tuple[int, dict[str, str]]]:
    """`pointgate demo` started in an empty folder as the README says: its port and the
    operator's header it printed, once it answers /readyz; stopped on leaving."""
    port = _free_port()
    env = {k: v for k, v in os.environ.items() if k not in ("DATABASE_URL", "POINTGATE_ENV")}
    server = subprocess.Popen(
        [sys.executable, "-m", "gateway.cli", "demo", "--port", str(port)],
        cwd=folder,
        env=env,
        stdout=subprocess.PIPE,
        stderr=subprocess.STDOUT,
    )
    try:
        operator_header = None
        while operator_header is None:
            line = server.stdout.readline().decode()
            assert line, "the demo stopped before printing its tokens"
            if "operator (admin):" in line:
                operator_header = json.loads(line.split(":", 1)[1])
        wait_until_ready(server, port, 60)
        yield port, operator_header
    finally:
        server.terminate()
        server.wait(timeout=15)
        server.stdout.close()


def test_the_demo_command_serves_demo_members(tmp_path):
    with running_demo(tmp_path) as (port, operator_header):
        answer = httpx.post(
            f"http://127.0.0.1:{port}/graphql", json={"query": MEMBERS}, headers=operator_header
        ).json()
        refused = httpx.post(f"http://127.0.0.1:{port}/graphql", json={"query": MEMBERS}).json()
        ide = httpx.get(f"http://127.0.0.1:{port}/graphql", headers={"accept": "text/html"})

    members = answer["data"]["members"]["edges"]
    assert len(members) == 3
    assert all(edge["node"]["balance"]["available"] >= 0 for edge in members)
    assert ide.status_code == 200 and "graphiql" in ide.text.lower()
    assert [error["extensions"]["code"] for error in refused["errors"]] == ["UNAUTHENTICATED"]
    # The README's commands, run after the demo in its folder, work on the demo's database.
    token = cli(tmp_path, "token", "member", "4")
    assert token.returncode == 0, token.stderr
    assert token.stdout.count(".") == 2  # a JWT
    assert sorted(p.name for p in tmp_path.glob("*.db")) == ["pointgate.db"]


def cli(folder: Path, *arguments: str) -> subprocess.CompletedProcess[str]:
    env = {k: v for k, v in os.environ.items() if k not in ("DATABASE_URL", "POINTGATE_ENV")}
    return subprocess.run([sys.executable, "-m", "gateway.cli", *arguments], cwd=folder, env=env,
                          capture_output=True, text=True, timeout=120)  # fmt: skip


def test_a_command_on_a_database_without_the_schema_says_what_to_run_in_one_line(tmp_path):
    for _ in range(2):  # the second time too: no empty database was left behind
        done = cli(tmp_path, "token", "member", "4")
        assert done.returncode == 1
        assert done.stderr.strip().splitlines() == [
            "sqlite+aiosqlite:///./pointgate.db has no Pointgate schema yet: run "
            "`pointgate migrate` first (or `python3 dev.py demo` for the demo data)"
        ]
        assert not list(tmp_path.glob("*.db"))


def test_stopping_the_demo_with_sigterm_leaves_nothing_on_its_port(tmp_path):
    port = _free_port()
    env = {**os.environ, "DATABASE_URL": f"sqlite+aiosqlite:///{tmp_path}/demo.db"}
    env.pop("POINTGATE_ENV", None)
    root = os.path.dirname(os.path.dirname(os.path.abspath(__file__)))
    demo = subprocess.Popen(
        [sys.executable, os.path.join(root, "dev.py"), "demo", "--port", str(port)],
        env=env, stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL,
    )  # fmt: skip
    try:
        wait_until_ready(demo, port, 90)

        demo.send_signal(signal.SIGTERM)
        demo.wait(timeout=15)
    finally:
        if demo.poll() is None:
            demo.kill()

    with socket.socket() as probe:
        probe.bind(("127.0.0.1", port))  # free again: no server child left behind
