"""wrk's figures for a request body (optionally paced to a rate), and servers loaded in turns."""

from __future__ import annotations

import json
import re
import subprocess
import tempfile
from dataclasses import dataclass


@dataclass
class Figures:
    rate: float
    p50: float  # ms
    p99: float
    failed: int

    def cell(self) -> str:
        failed = f" ({self.failed} failed)" if self.failed else ""
        return f"{self.rate:8.1f} req/s {self.p50:6.1f} / {self.p99:6.1f} ms{failed}"


def milliseconds(value: str) -> float:
    number, unit = re.fullmatch(r"([\d.]+)(us|ms|s|m)", value).groups()  # type: ignore[union-attr]
    return float(number) * {"us": 0.001, "ms": 1.0, "s": 1000.0, "m": 60_000.0}[unit]


def wrk(url: str, body: str, headers: dict[str, str], connections: int, seconds: float,
        rate: float | None = None) -> Figures:  # fmt: skip
    """wrk's figures; with `rate`, each connection waits between requests (wrk's `delay`, with
    jitter) so that all of them together send about `rate` requests a second at most."""
    paced = [] if rate is None else [
        f"function delay() return math.random(0, {round(2000 * connections / rate)}) end"
    ]  # fmt: skip
    script = "\n".join(
        ['wrk.method = "POST"', 'wrk.headers["Content-Type"] = "application/json"',
         *(f'wrk.headers["{k}"] = {json.dumps(v)}' for k, v in headers.items()),
         f"wrk.body = {json.dumps(body)}", *paced]
    )  # fmt: skip
    with tempfile.NamedTemporaryFile("w", suffix=".lua") as handle:
        handle.write(script)
        handle.flush()
        threads = min(2, connections)
        output = subprocess.run(
            ["wrk", f"-t{threads}", f"-c{connections}", f"-d{round(seconds)}s", "--latency",
             "-s", handle.name, url],
            capture_output=True, text=True, check=True,
        ).stdout  # fmt: skip
    try:
        rate = float(re.search(r"Requests/sec:\s+([\d.]+)", output)[1])  # type: ignore[index]
        p50 = milliseconds(re.search(r"^\s+50%\s+(\S+)", output, re.M)[1])  # type: ignore[index]
        p99 = milliseconds(re.search(r"^\s+99%\s+(\S+)", output, re.M)[1])  # type: ignore[index]
    except (TypeError, AttributeError):
        raise RuntimeError(f"unexpected wrk output:\n{output}") from None
    failed = re.search(r"Non-2xx or 3xx responses: (\d+)", output)
    return Figures(rate, p50, p99, int(failed[1]) if failed else 0)


# This machine's speed drifts over tens of seconds (a shared VM: the same server measured 4,600
# and 9,600 req/s five minutes apart). Servers compared with each other are therefore loaded
# in turns of a few seconds each (A B C A B C ...), so a slow phase falls on all of them.
SLICES = 3


def interleaved(runs: dict[str, tuple[str, str]], headers: dict[str, str], connections: int,
                seconds: float, own: dict[str, dict[str, str]] | None = None,
                ) -> dict[str, Figures]:  # fmt: skip
    """{name: (url, body)} loaded in turns, `seconds` in all for each: each one's rate over its
    turns, and the median of its turns' percentiles (`own`: a run's own headers)."""
    turns: dict[str, list[Figures]] = {name: [] for name in runs}
    for _ in range(SLICES):
        for name, (url, body) in runs.items():
            given = (own or {}).get(name, headers)
            turns[name].append(wrk(url, body, given, connections, max(1, seconds / SLICES)))
    return {
        name: Figures(
            sum(f.rate for f in figures) / len(figures),
            sorted(f.p50 for f in figures)[len(figures) // 2],
            sorted(f.p99 for f in figures)[len(figures) // 2],
            sum(f.failed for f in figures),
        )
        for name, figures in turns.items()
    }
