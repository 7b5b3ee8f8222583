"""`pointgate sdl` composes into a supergraph with a second subgraph that extends Member, using
The Guild's composition library (what Hive Gateway runs) from infra/composition/package.json.
Skipped only where Node is absent, and never in CI."""

from __future__ import annotations

import os
import shutil
import subprocess
import sys
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parents[2]
COMPOSITION = ROOT / "infra" / "composition"
REVIEWS = ROOT / "infra" / "deploy" / "reviews" / "reviews.py"


def reviews_sdl() -> str:
    """The example subgraph's SDL (infra/deploy/reviews), which extends Member."""
    return subprocess.run([sys.executable, str(REVIEWS)], capture_output=True, text=True,
                          check=True, timeout=60).stdout  # fmt: skip


def node_and_packages() -> str:
    """Node, with infra/composition's packages installed; skipped without Node, except in CI."""
    node, npm = shutil.which("node"), shutil.which("npm")
    if node is None or npm is None:
        if os.environ.get("CI"):
            pytest.fail("Node and npm are needed in CI for the federation checks")
        pytest.skip("Node is not installed")
    if not (COMPOSITION / "node_modules" / ".bin" / "hive-gateway").exists():
        subprocess.run([npm, "ci", "--no-audit", "--no-fund"], cwd=COMPOSITION, check=True,
                       capture_output=True, timeout=600)  # fmt: skip
    return node


def test_the_subgraph_composes_with_a_subgraph_that_extends_member(tmp_path):
    node = node_and_packages()
    sdl = subprocess.run([sys.executable, "-m", "gateway.cli", "sdl"], capture_output=True,
                         text=True, check=True, timeout=120).stdout  # fmt: skip
    (tmp_path / "pointgate.graphql").write_text(sdl)
    (tmp_path / "reviews.graphql").write_text(reviews_sdl())

    composed = subprocess.run(
        [node, "compose.mjs", f"pointgate={tmp_path / 'pointgate.graphql'}",
         f"reviews={tmp_path / 'reviews.graphql'}"],
        cwd=COMPOSITION, capture_output=True, text=True, timeout=120, check=False,
    )  # fmt: skip

    assert composed.returncode == 0, composed.stderr
    member = composed.stdout.split("type Member ", 1)[1].split("\n}", 1)[0]
    assert 'key: "id"' in member and "reviews: [Review!]! @join__field(graph: REVIEWS)" in member
    assert "settlementStatement" in composed.stdout
