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

COMPOSITION = Path(__file__).resolve().parents[2] / "infra" / "composition"


def test_the_subgraph_composes_with_a_subgraph_that_extends_member(tmp_path):
    node, npm = shutil.which("node"), shutil.which("npm")
    if node is None or npm is None:
        if os.environ.get("CI"):
            pytest.fail("Node and npm are needed in CI for the composition check")
        pytest.skip("Node is not installed")
    if not (COMPOSITION / "node_modules").exists():
        subprocess.run([npm, "ci", "--no-audit", "--no-fund"], cwd=COMPOSITION, check=True,
                       capture_output=True, timeout=300)  # fmt: skip
    sdl = subprocess.run([sys.executable, "-m", "gateway.cli", "sdl"], capture_output=True,
                         text=True, check=True, timeout=120).stdout  # fmt: skip
    (tmp_path / "pointgate.graphql").write_text(sdl)

    composed = subprocess.run(
        [node, "compose.mjs", f"pointgate={tmp_path / 'pointgate.graphql'}",
         "reviews=reviews.graphql"],
        cwd=COMPOSITION, capture_output=True, text=True, timeout=120, check=False,
    )  # fmt: skip

    assert composed.returncode == 0, composed.stderr
    member = composed.stdout.split("type Member ", 1)[1].split("\n}", 1)[0]
    assert 'key: "id"' in member and "reviews: [Review!]! @join__field(graph: REVIEWS)" in member
    assert "settlementStatement" in composed.stdout
