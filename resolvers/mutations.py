"""The root Mutation type, merged from each domain's mutations: each field is allowed by its
permission class, calls one domain function (which checks ownership inside its transaction
through `info.context.visible`) and maps the result."""

from __future__ import annotations

from strawberry.tools import merge_types

from resolvers.exchanges import ExchangeMutations, PartnerMutations
from resolvers.members import MemberMutations
from resolvers.promotions import PromotionMutations
from resolvers.purchases import PurchaseMutations
from resolvers.rewards import RewardMutations
from resolvers.settlements import SettlementMutations

Mutation = merge_types(
    "Mutation",
    (
        MemberMutations,
        PurchaseMutations,
        PartnerMutations,
        RewardMutations,
        ExchangeMutations,
        SettlementMutations,
        PromotionMutations,
    ),
)
