"""Telemetry on the real dev server: a trace runs from the API's start of a buy through the workflow
to its activities (the SDK's tracing interceptor), the worker serves the SDK's Prometheus metrics
on its own port, and log lines written in an activity carry the workflow, run and activity."""

from __future__ import annotations

import asyncio
from typing import Any

import httpx
from opentelemetry.sdk.trace import TracerProvider
from opentelemetry.sdk.trace.export import SimpleSpanProcessor
from opentelemetry.sdk.trace.export.in_memory_span_exporter import InMemorySpanExporter
from temporalio import activity
from temporalio.client import Client
from temporalio.testing import ActivityEnvironment, WorkflowEnvironment

from api.app import create_app
from core.logs import add_temporal_context
from core.settings import Settings
from core.telemetry import interceptors, worker_runtime
from jointbuy.devstack import free_port
from tests.api.conftest import ADMIN_TOKEN, buy_body
from worker import build_worker


async def test_a_trace_runs_from_the_api_through_the_workflow_to_its_activities(
    api_settings: Settings, pool: Any, dev_env: WorkflowEnvironment
) -> None:
    exporter = InMemorySpanExporter()
    provider = TracerProvider()
    provider.add_span_processor(SimpleSpanProcessor(exporter))
    settings = api_settings.model_copy(update={"task_queue": "traced"})
    assert interceptors(settings) == [], "no exporter configured: no tracing at all"
    config = dev_env.client.config()
    config["interceptors"] = interceptors(settings, tracer=provider.get_tracer("test"))
    client = Client(**config)
    async with build_worker(client, pool, settings.task_queue):
        app = create_app(settings, pool=pool, client=client)
        admin = {"Authorization": f"Bearer {ADMIN_TOKEN}"}
        async with httpx.AsyncClient(
            transport=httpx.ASGITransport(app=app), base_url="http://x.test"
        ) as http:
            r = await http.post(
                "/v1/api-keys",
                json={"role": "lead", "organisation_id": "LEAD-TRACE", "name": "t"},
                headers=admin,
            )
            lead = {"Authorization": f"Bearer {r.json()['token']}"}
            r = await http.post("/v1/joint-buys", json=buy_body(), headers=lead)
            assert r.status_code == 201, r.text
            buy_id = r.json()["id"]
            for _ in range(100):
                names = {s.name for s in exporter.get_finished_spans()}
                if "RunActivity:record_events" in names:
                    break
                await asyncio.sleep(0.1)
        await client.get_workflow_handle(buy_id).cancel()
    spans = exporter.get_finished_spans()
    names = {s.name for s in spans}
    assert {
        "StartWorkflow:JointBuyWorkflow",
        "RunWorkflow:JointBuyWorkflow",
        "StartActivity:record_events",
        "RunActivity:record_events",
    } <= names, names
    start = next(s for s in spans if s.name == "StartWorkflow:JointBuyWorkflow")
    assert start.context is not None
    run_activity = next(s for s in spans if s.name == "RunActivity:record_events")
    assert run_activity.context is not None
    assert run_activity.context.trace_id == start.context.trace_id, "one trace, API to activity"


async def test_the_worker_serves_the_sdk_prometheus_metrics_on_its_own_port(
    api_settings: Settings, pool: Any, dev_env: WorkflowEnvironment
) -> None:
    assert worker_runtime(api_settings) is None, "not served unless configured"
    port = free_port()
    runtime = worker_runtime(api_settings.model_copy(update={"worker_metrics_address": f"127.0.0.1:{port}"}))
    assert runtime is not None
    client = await Client.connect(
        dev_env.client.service_client.config.target_host,
        namespace=dev_env.client.namespace,
        data_converter=dev_env.client.data_converter,
        runtime=runtime,
    )
    body = ""
    async with build_worker(client, pool, "metrics-worker"), httpx.AsyncClient() as http:
        for _ in range(100):
            body = (await http.get(f"http://127.0.0.1:{port}/metrics")).text
            if "temporal_" in body and "poll" in body:
                break
            await asyncio.sleep(0.1)
    assert "temporal_" in body and 'task_queue="metrics-worker"' in body, body[:2000]


async def test_log_lines_in_an_activity_carry_the_workflow_run_and_activity() -> None:
    @activity.defn(name="record_events")
    async def logs() -> dict[str, Any]:
        return dict(add_temporal_context(None, "info", {"event": "events recorded"}))

    line = await ActivityEnvironment().run(logs)
    info = ActivityEnvironment().info
    assert line == {
        "event": "events recorded",
        "workflow_id": info.workflow_id,
        "run_id": info.workflow_run_id,
        "activity_type": info.activity_type,
        "buy_id": info.workflow_id,
    }
    # Temporal's own records (workflow.logger) arrive with an extra dict: flattened.
    extra = {"event": "stage entered", "temporal_workflow": {"workflow_id": "jb-1", "run_id": "r-1", "x": 1}}
    assert add_temporal_context(None, "info", extra) == {
        "event": "stage entered",
        "workflow_id": "jb-1",
        "run_id": "r-1",
    }
