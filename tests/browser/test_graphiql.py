"""The demo's IDE works on a machine without internet: GraphiQL's page and assets come from the
gateway, and a query run in it with the token the demo printed shows its result."""

from __future__ import annotations

import json
from urllib.parse import urlencode

from tests.test_readme_commands import running_demo

QUERY = "{ members(first: 2) { edges { node { id displayName tier } } } }"


def test_the_demos_graphiql_runs_a_query_offline(offline_page, screenshots, tmp_path):
    page = offline_page.page
    with running_demo(tmp_path) as (port, operator_header):
        link = urlencode({"q": QUERY, "headers": json.dumps(operator_header)})
        page.goto(f"http://127.0.0.1:{port}/graphql?{link}")
        page.locator(".graphiql-execute-button").click()
        result = page.locator(".result-window")
        result.get_by_text('"displayName"').first.wait_for(timeout=15_000)
        page.screenshot(path=screenshots / "graphiql-demo-query.png")
        shown = json.loads(page.evaluate(
            "() => document.querySelector('.result-window .CodeMirror').CodeMirror.getValue()"
        ))  # fmt: skip

    assert offline_page.blocked == []
    edges = shown["data"]["members"]["edges"]
    assert len(edges) == 2 and all(edge["node"]["displayName"] for edge in edges)
