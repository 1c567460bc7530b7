"""Sealed bids are encrypted in Temporal's history: the raw history of a buy with bids holds no
price or baseline in plain text; with the codec the same history decodes and replays; an operator
reads the decoded payloads through `/v1/codec/decode` (the Temporal Web UI's codec endpoint)."""

from __future__ import annotations

import base64
import json

import pytest
from temporalio.api.common.v1 import Payload
from temporalio.api.enums.v1 import EventType
from temporalio.client import Client, WorkflowHistory
from temporalio.testing import WorkflowEnvironment
from temporalio.worker import Replayer

from core.codec import CodecError, EncryptionCodec, data_converter, new_key, parse_keys
from messages.joint_buy import Receipt, RecordEvents
from tests.api.conftest import Api, Buy
from tests.support import CONVERTER, PAYLOAD_KEYS
from workflows.joint_buy import JointBuyWorkflow

S1, S2 = "71913370", "72000002"
E1, E2 = "E06000060", "E06000061"
DEMAND = {
    E1: [{"lot_id": "laptops", "quantity": 60, "baseline_unit_price": "951.37"}],
    E2: [{"lot_id": "laptops", "quantity": 70, "baseline_unit_price": "947.13"}],
}
SECRETS = ("913.37", "951.37", "947.13")


def plain(text: str) -> Payload:
    return Payload(metadata={"encoding": b"json/plain"}, data=json.dumps({"price": text}).encode())


async def test_a_payload_is_sealed_with_the_newest_key_and_opened_by_any_listed_key() -> None:
    old, new = new_key("old"), new_key("new")
    before = EncryptionCodec(parse_keys(old))
    [sealed] = await before.encode([plain("913.37")])
    assert sealed.metadata["encryption-key-id"] == b"old" and b"913.37" not in sealed.data
    rotated = EncryptionCodec(parse_keys(f"{new},{old}"))
    [resealed] = await rotated.encode([plain("913.37")])
    assert resealed.metadata["encryption-key-id"] == b"new"
    assert await rotated.decode([sealed, resealed]) == [plain("913.37"), plain("913.37")]
    # Plain payloads (histories from before encryption) pass through.
    assert await rotated.decode([plain("1")]) == [plain("1")]
    with pytest.raises(CodecError, match="not among"):
        await EncryptionCodec(parse_keys(new)).decode([sealed])
    tampered = Payload(metadata=sealed.metadata, data=sealed.data[:-1] + bytes([sealed.data[-1] ^ 1]))
    with pytest.raises(CodecError, match="authentication"):
        await before.decode([tampered])


def test_bad_key_settings_are_refused() -> None:
    assert data_converter("").payload_codec is None
    for spec, says in [
        ("nocolon", "id:base64key"),
        ("k:!!!", "base64"),
        (f"k:{base64.b64encode(b'short').decode()}", "32 bytes"),
        (f"{new_key('k')},{new_key('k')}", "twice"),
    ]:
        with pytest.raises(ValueError, match=says):
            parse_keys(spec)


@pytest.fixture(scope="module")
async def bid_on(api: Api) -> Buy:
    buy = await api.negotiating_buy("LEAD-SEALED", DEMAND, {S1: "active", S2: "active"})
    body = {"lot_id": "laptops", "tiers": [{"min_quantity": 1, "unit_price": "913.37"}]}
    r = await api.http.post(f"{buy.url}/bids", json=body, headers=buy.suppliers[S1])
    assert r.status_code == 201, r.text
    return buy


async def raw_history(dev_env: WorkflowEnvironment, buy_id: str) -> WorkflowHistory:
    """The history as the Temporal server stores it: fetched by a client without the codec."""
    raw = await Client.connect(
        dev_env.client.service_client.config.target_host, namespace=dev_env.client.namespace
    )
    return await raw.get_workflow_handle(buy_id).fetch_history()


async def test_no_bid_price_or_baseline_is_in_the_raw_history(
    api: Api, bid_on: Buy, dev_env: WorkflowEnvironment
) -> None:
    history = await raw_history(dev_env, bid_on.id)
    text = history.to_json()
    assert (
        "binary/encrypted"
        in base64.b64decode(
            json.loads(text)["events"][0]["workflowExecutionStartedEventAttributes"]["input"]["payloads"][0][
                "metadata"
            ]["encoding"]
        ).decode()
    )
    assert not [s for s in SECRETS if s in text], "a sealed bid or a baseline is in plain text"
    assert not [s for s in SECRETS if base64.b64encode(s.encode()).decode() in text]

    # With the codec the same history decodes (the bid is there) and replays on today's workflow.
    # Its event travels to PostgreSQL in the answer to the bid (for the API to record), in a
    # `record_events` batch, or in both.
    recorded = {}
    for e in history.events:
        attrs = e.activity_task_scheduled_event_attributes
        if (
            e.event_type == EventType.EVENT_TYPE_ACTIVITY_TASK_SCHEDULED
            and attrs.activity_type.name == "record_events"
        ):
            [batch] = await CONVERTER.decode(attrs.input.payloads, [RecordEvents])
            recorded |= {ev.seq: ev for ev in batch.events}
        if e.event_type == EventType.EVENT_TYPE_WORKFLOW_EXECUTION_UPDATE_COMPLETED:
            outcome = e.workflow_execution_update_completed_event_attributes.outcome
            if outcome.HasField("success"):
                [receipt] = await CONVERTER.decode(outcome.success.payloads, [Receipt])
                recorded |= {ev.seq: ev for ev in receipt.unrecorded}
    bids = [ev for ev in recorded.values() if ev.type == "bid.submitted"]
    assert [b.data["evaluated_unit_price"] for b in bids] == ["913.37"]
    replay = await Replayer(workflows=[JointBuyWorkflow], data_converter=CONVERTER).replay_workflow(
        history, raise_on_replay_failure=False
    )
    assert replay.replay_failure is None, replay.replay_failure


async def test_an_operator_reads_the_decoded_payloads_through_the_codec_endpoint(
    api: Api, bid_on: Buy, dev_env: WorkflowEnvironment
) -> None:
    history = await raw_history(dev_env, bid_on.id)
    sealed = [
        {
            "metadata": {k: base64.b64encode(v).decode() for k, v in p.metadata.items()},
            "data": base64.b64encode(p.data).decode(),
        }
        for e in history.events
        for p in (
            *e.activity_task_scheduled_event_attributes.input.payloads,
            *e.workflow_execution_update_accepted_event_attributes.accepted_request.input.args.payloads,
        )
    ]
    operator = await api.token("operator", "ops-codec")
    r = await api.http.post("/v1/codec/decode", json={"payloads": sealed}, headers=operator)
    assert r.status_code == 200, r.text
    decoded = [base64.b64decode(p["data"]) for p in r.json()["payloads"]]
    assert any(b"913.37" in d for d in decoded)
    # Encode then decode: the same payload back, sealed with the newest key.
    mine = {
        "payloads": [
            {
                "metadata": {"encoding": base64.b64encode(b"json/plain").decode()},
                "data": base64.b64encode(b'"hello"').decode(),
            }
        ]
    }
    encoded = (await api.http.post("/v1/codec/encode", json=mine, headers=api.admin)).json()
    key_id = base64.b64decode(encoded["payloads"][0]["metadata"]["encryption-key-id"]).decode()
    assert key_id == next(iter(parse_keys(PAYLOAD_KEYS)))
    again = await api.http.post("/v1/codec/decode", json=encoded, headers=operator)
    assert again.json() == mine
    # Anyone else is refused; a payload that is not ours to open is a 422.
    council = await api.token("council", E1)
    assert (await api.http.post("/v1/codec/decode", json=mine, headers=council)).status_code == 403
    assert (await api.http.post("/v1/codec/decode", json=mine)).status_code == 401
    foreign = EncryptionCodec(parse_keys(new_key("elsewhere"))).seal(Payload(data=b"x"))
    body = {
        "payloads": [
            {
                "metadata": {k: base64.b64encode(v).decode() for k, v in foreign.metadata.items()},
                "data": base64.b64encode(foreign.data).decode(),
            }
        ]
    }
    r = await api.http.post("/v1/codec/decode", json=body, headers=operator)
    assert r.status_code == 422 and "elsewhere" in r.json()["detail"]
