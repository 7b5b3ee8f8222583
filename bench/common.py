"""Shared pieces of the benchmark scripts: a fresh PostgreSQL database, a served gateway, and
a bounded concurrent load loop that reports rate and latency percentiles."""

from __future__ import annotations

import asyncio
import os
import re
import socket
import statistics
import subprocess
import sys
import time
from collections.abc import Awaitable, Callable, Iterator
from contextlib import contextmanager
from dataclasses import dataclass
from pathlib import Path

import asyncpg
import httpx

from infra import secrets

ADMIN_DSN = os.environ.get("POINTGATE_BENCH_ADMIN_DSN", "postgresql://postgres@127.0.0.1:5432/test")
# Secrets at rest are sealed with a data key: one for this run, shared with the served gateway.
DATA_KEY = os.environ.get("POINTGATE_DATA_KEYS") or secrets.new_data_key()
secrets.configure(lambda: secrets.Keyring.from_text(DATA_KEY.split(",")))


async def fresh_database(name: str) -> str:
    """Drop and create `name`; return its SQLAlchemy URL."""
    admin = await asyncpg.connect(ADMIN_DSN)
    try:
        await admin.execute(f'DROP DATABASE IF EXISTS "{name}" WITH (FORCE)')
        await admin.execute(f'CREATE DATABASE "{name}"')
    finally:
        await admin.close()
    base = ADMIN_DSN.rsplit("/", 1)[0].replace("postgresql://", "postgresql+asyncpg://", 1)
    return f"{base}/{name}"


def free_port() -> int:
    with socket.socket() as probe:
        probe.bind(("127.0.0.1", 0))
        return int(probe.getsockname()[1])


# Pointgate's own limit would refuse a benchmark's rate from one operator (every request of
# the write benchmark answered RATE_LIMITED before this was shared). The pool is the default
# one (sized from the workers, queueing like PostGraphile's).
SERVED = {"POINTGATE_RATE_LIMIT_PER_MINUTE": "1000000000",
          "POINTGATE_RATE_LIMIT_BURST": "1000000000"}  # fmt: skip


@dataclass
class Served:
    url: str
    process: subprocess.Popen[bytes]

    def worker_memory(self) -> list[int]:
        """Resident memory (bytes) of each process serving requests: the worker processes, or
        the server itself when it runs one."""
        pids = [self.process.pid]
        children = Path(f"/proc/{self.process.pid}/task/{self.process.pid}/children")
        if children.exists():
            # uvicorn's workers, not multiprocessing's resource tracker
            workers = [int(pid) for pid in children.read_text().split()
                       if b"spawn_main" in Path(f"/proc/{pid}/cmdline").read_bytes()]  # fmt: skip
            pids = workers or pids
        sizes = []
        for pid in pids:
            status = Path(f"/proc/{pid}/status").read_text()
            sizes.append(int(re.search(r"VmRSS:\s+(\d+) kB", status)[1]) * 1024)  # type: ignore[index]
        return sizes


@contextmanager
def served_gateway(
    database_url: str,
    workers: int = 2,
    extra_env: dict[str, str] | None = None,
    tree: str | None = None,
) -> Iterator[str]:
    """Run `pointgate serve` in a subprocess until the block ends; yield its /graphql URL.
    `tree`: serve the code of another checkout (an earlier commit, for "before" figures)."""
    with serving(database_url, workers, extra_env, tree) as served:
        yield served.url


@contextmanager
def serving(
    database_url: str,
    workers: int = 2,
    extra_env: dict[str, str] | None = None,
    tree: str | None = None,
) -> Iterator[Served]:
    """Run `pointgate serve` in a subprocess until the block ends."""
    port = free_port()
    env = {**os.environ, "DATABASE_URL": database_url, "POINTGATE_ENV": "production",
           "POINTGATE_DATA_KEYS": DATA_KEY, **(extra_env or {})}  # fmt: skip
    server = subprocess.Popen(
        [sys.executable, "-m", "gateway.cli", "serve", "--port", str(port),
         "--workers", str(workers)],
        env=env, stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL, cwd=tree,
    )  # fmt: skip
    try:
        deadline = time.monotonic() + 60
        while time.monotonic() < deadline:
            try:
                if httpx.get(f"http://127.0.0.1:{port}/readyz").status_code == 200:
                    break
            except httpx.TransportError:
                time.sleep(0.2)
        else:
            raise RuntimeError("the gateway did not start")
        yield Served(f"http://127.0.0.1:{port}/graphql", server)
    finally:
        server.terminate()
        server.wait(timeout=30)


@dataclass
class LoadResult:
    requests: int
    errors: int
    seconds: float
    latencies: list[float]

    @property
    def rate(self) -> float:
        return self.requests / self.seconds

    def percentile(self, fraction: float) -> float:
        ordered = sorted(self.latencies)
        return ordered[min(len(ordered) - 1, int(fraction * len(ordered)))] * 1000

    def line(self, label: str) -> str:
        return (
            f"{label:<44} {self.rate:9.1f} req/s   p50 {self.percentile(0.5):7.1f} ms   "
            f"p99 {self.percentile(0.99):7.1f} ms   errors {self.errors}"
        )


async def run_load(
    connections: int, seconds: float, request: Callable[[int, int], Awaitable[bool]]
) -> LoadResult:
    """`connections` workers call request(worker, n) until `seconds` pass; bounded by time."""
    latencies: list[float] = []
    errors = 0
    deadline = time.perf_counter() + seconds

    async def worker(index: int) -> None:
        nonlocal errors
        count = 0
        while time.perf_counter() < deadline:
            started = time.perf_counter()
            ok = await request(index, count)
            latencies.append(time.perf_counter() - started)
            errors += 0 if ok else 1
            count += 1

    started = time.perf_counter()
    await asyncio.gather(*(worker(i) for i in range(connections)))
    elapsed = time.perf_counter() - started
    return LoadResult(len(latencies), errors, elapsed, latencies or [0.0])


def median(values: list[float]) -> float:
    return statistics.median(values)


async def timed(work: Callable[[], Awaitable[object]]) -> float:
    """Seconds `work()` took."""
    started = time.perf_counter()
    await work()
    return time.perf_counter() - started
