"""What a buy's workflow histories weigh: events, bytes and the largest payload, per run."""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any

from google.protobuf.message import Message
from temporalio.api.enums.v1 import EventType
from temporalio.client import Client

PAYLOADS = "temporal.api.common.v1.Payloads"
PAYLOAD = "temporal.api.common.v1.Payload"


@dataclass(frozen=True)
class RunFigures:
    run_id: str
    events: int
    bytes: int
    largest_payload: int  # bytes of the largest Payloads (or lone Payload) in any event
    largest_payload_event: str


def largest_payload(msg: Message) -> int:
    """The largest Payloads/Payload anywhere inside a proto message."""
    best = 0
    for fd, value in msg.ListFields():
        if fd.message_type is None:
            continue
        if fd.message_type.GetOptions().map_entry:
            items: Any = list(value.values())
            inner = fd.message_type.fields_by_name["value"].message_type
            if inner is None:
                continue
            name = inner.full_name
        else:
            items = value if fd.is_repeated else [value]
            name = fd.message_type.full_name
        for item in items:
            if name in (PAYLOADS, PAYLOAD):
                best = max(best, item.ByteSize())
            else:
                best = max(best, largest_payload(item))
    return best


async def chain(client: Client, workflow_id: str) -> list[RunFigures]:
    """Every run of the workflow, latest first, walking back through continue-as-new."""
    out: list[RunFigures] = []
    run_id: str | None = None
    while True:
        history = await client.get_workflow_handle(workflow_id, run_id=run_id).fetch_history()
        previous = ""
        size = largest = 0
        where = ""
        for event in history.events:
            size += event.ByteSize()
            got = largest_payload(event)
            if got > largest:
                largest, where = got, EventType.Name(event.event_type).removeprefix("EVENT_TYPE_")
            if event.event_type == EventType.EVENT_TYPE_WORKFLOW_EXECUTION_STARTED:
                previous = event.workflow_execution_started_event_attributes.continued_execution_run_id
        first = history.events[0]
        out.append(RunFigures(run_id or "latest", len(history.events), size, largest, where))
        del first
        if not previous:
            return out
        run_id = previous
