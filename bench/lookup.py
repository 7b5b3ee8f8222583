"""Finding a member by e-mail or phone with contact identities sealed at rest (loyalty.sealing).

`memberByIdentity` by e-mail, by phone (answering the identities, so each is opened), and by
loyalty card (stored in clear: the same statement without the keyed hash and the opening),
loaded with wrk in turns on one worker. With `--before`, a checkout of a commit from before
sealing serves the same queries over its own database seeded alike: the target is the sealed
lookup at no less than 1/1.5 of that rate (issue 30). Needs PostgreSQL.

    .venv/bin/python -m bench.lookup [--before /path/to/checkout] [--seconds 6]
"""

from __future__ import annotations

import argparse
import asyncio
import json
import os
import shutil
import subprocess
import sys
from contextlib import ExitStack

import httpx

from bench.common import DATA_KEY, SERVED, served_gateway
from bench.gateway_load import seeded
from bench.load import interleaved

MEMBER = 5000  # an even id: the seed gives it an e-mail, a phone and a card
QUERIES = {
    "email": f'{{ memberByIdentity(kind: EMAIL, value: "Member{MEMBER}@Example.com") '
    "{ id displayName tier } }",
    "phone+identities": f'{{ memberByIdentity(kind: PHONE, value: "+1 555 {MEMBER:07d}") '
    "{ id identities { kind value } } }",
    "card (in clear)": f'{{ memberByIdentity(kind: LOYALTY_CARD, value: "card-{MEMBER:08d}") '
    "{ id displayName tier } }",
}
SEED = "import asyncio, json, sys; from bench.gateway_load import seeded; " \
       "print(json.dumps(asyncio.run(seeded(sys.argv[1], int(sys.argv[2]), 0))))"  # fmt: skip


def seeded_in(tree: str, database: str, members: int) -> tuple[str, dict[str, str]]:
    """A database seeded by another checkout's code (its own schema and storage)."""
    env = {**os.environ, "POINTGATE_DATA_KEYS": DATA_KEY}
    output = subprocess.run([sys.executable, "-c", SEED, database, str(members)], cwd=tree,
                            env=env, capture_output=True, text=True, check=True).stdout  # fmt: skip
    url, headers = json.loads(output.strip().splitlines()[-1])
    return url, headers


def answers(url: str, headers: dict[str, str]) -> dict[str, object]:
    found = {}
    for name, query in QUERIES.items():
        body = httpx.post(url, json={"query": query}, headers=headers, timeout=30).json()
        if body.get("errors") or not body["data"]["memberByIdentity"]:
            raise SystemExit(f"{name} at {url}: {body}")
        found[name] = body["data"]
    return found


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--members", type=int, default=10_000)
    parser.add_argument("--seconds", type=int, default=6)
    parser.add_argument("--before", help="a checkout of a commit from before sealing")
    options = parser.parse_args()
    if shutil.which("wrk") is None:
        raise SystemExit("wrk is missing: apt-get install -y wrk")
    url, headers = asyncio.run(seeded("pointgate_bench_lookup", options.members, 0))
    trees = {"now": (url, headers, None)}
    if options.before:
        old_url, old_headers = seeded_in(options.before, "pointgate_bench_lookup_before",
                                         options.members)  # fmt: skip
        trees["before"] = (old_url, old_headers, options.before)
    with ExitStack() as stack:
        served = {name: (stack.enter_context(served_gateway(db, 1, SERVED, tree=tree)), given)
                  for name, (db, given, tree) in trees.items()}  # fmt: skip
        seen = {name: answers(endpoint, given) for name, (endpoint, given) in served.items()}
        if len({json.dumps(found, sort_keys=True) for found in seen.values()}) != 1:
            raise SystemExit(f"the servers answer differently: {seen}")
        print(f"{options.members:,} members; one worker each; answers equal on every server")
        for connections in (16, 1):
            _round(served, connections, options.seconds)


def _round(served: dict[str, tuple[str, dict[str, str]]], connections: int, seconds: int) -> None:
    for query_name, query in QUERIES.items():
        body = json.dumps({"query": query})
        runs = {name: (endpoint, body) for name, (endpoint, _) in served.items()}
        own = {name: given for name, (_, given) in served.items()}  # each its own operator
        figures = interleaved(runs, {}, connections, seconds, own)
        cells = " | ".join(f"{name} {f.cell()}" for name, f in figures.items())
        ratio = ""
        if "before" in figures:
            now, before = figures["now"], figures["before"]
            ratio = (f"  before/now rate {before.rate / now.rate:4.2f}"
                     f"  p50 now/before {now.p50 / before.p50:4.2f}")  # fmt: skip
        print(f"  {query_name:<17} c={connections:<3} {cells}{ratio}")


if __name__ == "__main__":
    main()
