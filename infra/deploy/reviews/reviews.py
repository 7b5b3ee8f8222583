"""A small example subgraph that extends Pointgate's `Member` with reviews, as a second team's
service behind the same federation router would. Run: uvicorn reviews:app --app-dir <this dir>.

`latestReviews` names authors by id only; the router fetches their names from Pointgate's
`_entities`, with the client's token, so Pointgate's ownership rules decide what shows."""

from __future__ import annotations

import os
from pathlib import Path

import strawberry
from starlette.applications import Starlette
from starlette.routing import Route
from starlette.types import Receive, Scope, Send
from strawberry.asgi import GraphQL


@strawberry.type
class Review:
    id: strawberry.ID
    stars: int
    text: str
    author_id: strawberry.Private[str]

    @strawberry.field
    def author(self) -> Member | None:
        return Member(id=strawberry.ID(self.author_id))


@strawberry.federation.type(keys=["id"])
class Member:
    id: strawberry.ID

    @strawberry.field
    def reviews(self) -> list[Review]:
        return [_review(self.id, 1)]

    @classmethod
    def resolve_reference(cls, id: strawberry.ID) -> Member:
        return cls(id=id)


def _review(member_id: str, number: int) -> Review:
    stars = int(member_id) % 5 + 1 if member_id.isdigit() else 3
    return Review(id=strawberry.ID(f"{member_id}-{number}"), stars=stars,
                  text=f"review {number} by member {member_id}", author_id=member_id)  # fmt: skip


@strawberry.type
class Query:
    @strawberry.field(description="Reviews by the members in REVIEW_AUTHORS (comma-separated).")
    def latest_reviews(self) -> list[Review]:
        authors = [a.strip() for a in os.environ.get("REVIEW_AUTHORS", "1,2,3").split(",")]
        return [_review(author, 1) for author in authors if author]


schema = strawberry.federation.Schema(query=Query, federation_version="2.9")


class HeaderLog:
    """The GraphQL app; with REVIEWS_HEADER_LOG set (tests), the names of the headers each
    request brought are appended to that file: what a router forwards to another team's
    subgraph."""

    def __init__(self, inner: GraphQL) -> None:
        self.inner = inner

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        log = os.environ.get("REVIEWS_HEADER_LOG")
        if log and scope["type"] == "http":
            names = sorted(name.decode("latin-1") for name, _ in scope["headers"])
            line = " ".join(names) + "\n"
            with Path(log).open("a") as seen:  # noqa: ASYNC230 - a test's few short lines
                seen.write(line)
        await self.inner(scope, receive, send)


app = Starlette(routes=[Route("/graphql", HeaderLog(GraphQL(schema)), methods=["GET", "POST"])])

if __name__ == "__main__":
    print(schema.as_str())
