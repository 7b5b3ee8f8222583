"""What the federation router's hop costs: one query asked of Pointgate directly and through
Hive Gateway with the project's configuration (infra/composition: the router credential and
operation id to Pointgate, tracing off), loaded by wrk in turns at 1 and 16 connections.

    .venv/bin/python -m bench.hop --seconds 6

Prints req/s and p50/p99 for both, and the hop (p50 through the router less p50 direct). The
gateway serves PostgreSQL (`pointgate_bench_hop`, 2,000 members) with one worker; the router
is Node, on the same machine: compare within a run."""

from __future__ import annotations

import argparse
import asyncio
import json
import os
import shutil
import subprocess
import sys
import tempfile
import time
from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path

import httpx

from bench.common import SERVED, free_port, served_gateway
from bench.gateway_load import seeded
from bench.load import interleaved

COMPOSITION = Path(__file__).resolve().parents[1] / "infra" / "composition"
QUERY = "{ members(first: 10) { nodes { id displayName tier } } }"
ROUTER_TOKEN = "bench-router-credential"


def packages() -> str:
    """Node, with the composition's packages installed (npm ci once)."""
    node, npm = shutil.which("node"), shutil.which("npm")
    if node is None or npm is None:
        raise SystemExit("Node and npm are needed: apt-get install -y nodejs npm")
    if not (COMPOSITION / "node_modules" / ".bin" / "hive-gateway").exists():
        subprocess.run([npm, "ci", "--no-audit", "--no-fund"], cwd=COMPOSITION, check=True,
                       capture_output=True)  # fmt: skip
    return node


@contextmanager
def router(node: str, subgraph: str, folder: Path) -> Iterator[str]:
    """Hive Gateway over Pointgate's SDL at `subgraph`; yields its /graphql URL."""
    sdl = subprocess.run([str(Path(sys.executable).parent / "pointgate"), "sdl"],
                         capture_output=True, text=True, check=True).stdout  # fmt: skip
    (folder / "pointgate.graphql").write_text(sdl)
    composed = subprocess.run([node, "compose.mjs", f"pointgate={folder / 'pointgate.graphql'}"
                               f"={subgraph}"], cwd=COMPOSITION, capture_output=True, text=True,
                              check=True).stdout  # fmt: skip
    (folder / "supergraph.graphql").write_text(composed)
    port = free_port()
    env = {**os.environ, "SUPERGRAPH": str(folder / "supergraph.graphql"), "PORT": str(port),
           "HOST": "127.0.0.1", "POINTGATE_ROUTER_TOKEN": ROUTER_TOKEN}  # fmt: skip
    env.pop("OPENTELEMETRY", None)
    process = subprocess.Popen([node, "node_modules/.bin/hive-gateway", "supergraph"],
                               cwd=COMPOSITION, env=env, stdout=subprocess.DEVNULL,
                               stderr=subprocess.DEVNULL)  # fmt: skip
    try:
        deadline = time.monotonic() + 60
        while True:
            try:
                if httpx.get(f"http://127.0.0.1:{port}/healthcheck").status_code == 200:
                    break
            except httpx.TransportError:
                pass
            if time.monotonic() > deadline or process.poll() is not None:
                raise RuntimeError("Hive Gateway did not start")
            time.sleep(0.2)
        yield f"http://127.0.0.1:{port}/graphql"
    finally:
        process.terminate()
        process.wait(timeout=10)


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--seconds", type=float, default=6.0)
    parser.add_argument("--database", default="pointgate_bench_hop")
    options = parser.parse_args()
    if shutil.which("wrk") is None:
        raise SystemExit("wrk is missing: apt-get install -y wrk")
    node = packages()
    url, headers = asyncio.run(seeded(options.database, 2_000, 10_000))
    body = json.dumps({"query": QUERY})
    served = {**SERVED, "POINTGATE_ROUTER_TOKEN": ROUTER_TOKEN}
    with (served_gateway(url, 1, served) as direct, tempfile.TemporaryDirectory() as folder,
          router(node, direct, Path(folder)) as routed):  # fmt: skip
        for via in (direct, routed):
            answer = httpx.post(via, content=body, headers={**headers,
                                "Content-Type": "application/json"}).json()  # fmt: skip
            assert answer.get("data") and "errors" not in answer, answer
        print(f"{QUERY}\n{'':<8} {'conns':>5} {'direct':>36} {'through Hive Gateway':>36}  hop p50")
        for connections in (1, 16):
            figures = interleaved({"direct": (direct, body), "routed": (routed, body)}, headers,
                                  connections, options.seconds)  # fmt: skip
            hop = figures["routed"].p50 - figures["direct"].p50
            print(f"{'':<8} {connections:>5} {figures['direct'].cell():>36} "
                  f"{figures['routed'].cell():>36}  {hop:+.2f} ms")  # fmt: skip


if __name__ == "__main__":
    main()
