from graphql import GraphQLObjectType

from gateway.app import build_schema
from schema.graphql_schema import graphql_schema


def test_the_graphql_core_schema_is_strawberrys_own():
    schema = build_schema()
    found = graphql_schema(schema)
    member = found.get_type("Member")
    assert isinstance(member, GraphQLObjectType)
    # the same definitions Strawberry resolves with, not a copy rebuilt from the SDL
    assert member.extensions["strawberry-definition"] is schema.get_type_by_name("Member")
