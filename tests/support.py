"""Helpers shared by tests: buy terms, search-attribute registration, the payload codec."""

from __future__ import annotations

from datetime import datetime, timedelta
from typing import Any

from temporalio.api.enums.v1 import IndexedValueType
from temporalio.api.operatorservice.v1 import AddSearchAttributesRequest
from temporalio.client import Client
from temporalio.common import SearchAttributeKey

from core.codec import data_converter
from procurement.models import BuyState, BuyTerms
from workflows.search import SEARCH_ATTRIBUTES
from workflows.search import search_attribute_keys as keys

# Test payload keys, newest first: every test client, worker and Replayer encrypts as production
# does (the older key is there so decoding with any listed key is exercised).
PAYLOAD_KEYS = (
    "test-2:am9pbnQtYnV5LXRlc3QtcGF5bG9hZC1rZXktbmV3ISE=,test-1:am9pbnQtYnV5LXRlc3QtcGF5bG9hZC1rZXktb2xkISE="
)
CONVERTER = data_converter(PAYLOAD_KEYS)

_TYPES = {
    "Keyword": IndexedValueType.INDEXED_VALUE_TYPE_KEYWORD,
    "Int": IndexedValueType.INDEXED_VALUE_TYPE_INT,
    "Double": IndexedValueType.INDEXED_VALUE_TYPE_DOUBLE,
    "KeywordList": IndexedValueType.INDEXED_VALUE_TYPE_KEYWORD_LIST,
}


def search_attribute_keys() -> list[SearchAttributeKey[Any]]:
    return keys()


async def register_search_attributes(client: Client) -> None:
    await client.operator_service.add_search_attributes(
        AddSearchAttributesRequest(
            namespace=client.namespace,
            search_attributes={name: _TYPES[kind] for name, kind in SEARCH_ATTRIBUTES.items()},
        )
    )


def terms(now: datetime, **overrides: Any) -> BuyTerms:
    data: dict[str, Any] = {
        "title": "Laptops for 2027",
        "lots": [
            {"id": "laptops", "title": "14-inch laptop", "unit": "device"},
            {"id": "monitors", "title": "27-inch monitor", "unit": "device"},
        ],
        "estimated_value_gbp": "1800000",
        "demand_closes_at": now + timedelta(days=14),
        "sign_up_window": timedelta(days=7),
        "viability": {"min_councils": 2, "min_total_quantity": {"laptops": 100}},
    }
    data.update(overrides)
    return BuyTerms.model_validate(data)


def new_state(buy_id: str, now: datetime, lead: str = "CCS", **overrides: Any) -> BuyState:
    return BuyState(buy_id=buy_id, lead=lead, terms=terms(now, **overrides))
