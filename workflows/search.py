"""Search attributes that keep joint buys findable in the Temporal Web UI and visibility API."""

from __future__ import annotations

from temporalio import workflow
from temporalio.common import SearchAttributeKey, SearchAttributePair, TypedSearchAttributes

with workflow.unsafe.imports_passed_through():
    from procurement.models import BuyState

STAGE_KEY = SearchAttributeKey.for_keyword("JointBuyStage")
LEAD_KEY = SearchAttributeKey.for_keyword("JointBuyLead")
COUNCILS_KEY = SearchAttributeKey.for_int("JointBuyCouncils")
QUALIFIED_KEY = SearchAttributeKey.for_int("JointBuyQualifiedSuppliers")
# Every search attribute the engine upserts: each must be registered on every server it runs on,
# or the workflow task fails every 10 s forever.
SEARCH_ATTRIBUTES: dict[str, str] = {
    "JointBuyStage": "Keyword",
    "JointBuyLead": "Keyword",
    "JointBuyCouncils": "Int",
    "JointBuyQualifiedSuppliers": "Int",
}


def initial_search_attributes(state: BuyState) -> TypedSearchAttributes:
    return TypedSearchAttributes(
        [
            SearchAttributePair(STAGE_KEY, state.stage.value),
            SearchAttributePair(LEAD_KEY, state.lead),
            SearchAttributePair(COUNCILS_KEY, 0),
        ]
    )
