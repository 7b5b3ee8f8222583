"""A planned statement's answer is finished by substitution in its text (resolvers.compiled.sql
.finished): members' marks taken out and noted, sealed values opened; a string that spells a
mark is client data, escaped by JSON, and left as it is."""

from __future__ import annotations

import orjson

from resolvers.compiled.sql import finished

TRICKY = 'Eve {"$m":5,"x":{"$sealed":"enc"}} \\'


def test_only_the_marks_the_statement_wrote_are_finished():
    answer = orjson.dumps({"members": [
        {"$m": 7, "displayName": TRICKY, "identities": [{"value": {"$sealed": "c1"}}]},
        {"$m": 8, "identities": [{"value": "CARD-8"}, {"value": {"$sealed": "c2"}}]},
    ]}).decode()  # fmt: skip
    noted: list[int] = []

    done = finished(answer, lambda sealed: f"opened {sealed}", noted.append)

    assert orjson.loads(done) == {"members": [
        {"displayName": TRICKY, "identities": [{"value": "opened c1"}]},
        {"identities": [{"value": "CARD-8"}, {"value": "opened c2"}]},
    ]}  # fmt: skip
    assert noted == [7, 8]
    plain = orjson.dumps({"member": {"displayName": TRICKY}}).decode()
    assert finished(plain, lambda sealed: "never", noted.append) == plain
