"""The API retries a command the workflow refuses only for the moment (its run handing over, or the
buy in the middle of its award), and answers 503 with Retry-After, never a 500, when the moment
outlasts its retries. Against the real dev server, with a workflow that refuses as the buy does."""

from __future__ import annotations

import asyncio
import uuid

from temporalio import workflow
from temporalio.exceptions import ApplicationError

# The workflow below lives in this module, so the sandbox re-imports it: pass the rest through.
with workflow.unsafe.imports_passed_through():
    import pytest
    from temporalio.testing import WorkflowEnvironment
    from temporalio.worker import Worker

    from api.gateway import BuyGateway
    from api.problems import Problem
    from messages.joint_buy import BUY_BUSY, RUN_HANDOVER


@workflow.defn(name="GatewayRetriesBusyBuy")
class BusyBuy:
    """Refuses `poke` with `refusal` until `free` is signalled."""

    @workflow.init
    def __init__(self, refusal: str) -> None:
        self._refusal = refusal
        self._free = False
        self._pokes = 0

    @workflow.run
    async def run(self, refusal: str) -> int:
        await workflow.wait_condition(lambda: self._pokes > 0 and workflow.all_handlers_finished())
        return self._pokes

    @workflow.signal
    def free(self) -> None:
        self._free = True

    @workflow.update
    def poke(self, n: int) -> int:
        self._pokes += n
        return self._pokes

    @poke.validator
    def _poke_allowed(self, n: int) -> None:
        if not self._free:
            raise ApplicationError("this joint buy is busy; retry in a moment", type=self._refusal)


@pytest.mark.parametrize("refusal", [BUY_BUSY, RUN_HANDOVER])
async def test_a_refusal_for_the_moment_is_retried_then_answered_503(
    dev_env: WorkflowEnvironment, task_queue: str, refusal: str
) -> None:
    gateway = BuyGateway(dev_env.client, task_queue=task_queue, max_in_flight=8, messages_per_run=1000)
    async with Worker(dev_env.client, task_queue=task_queue, workflows=[BusyBuy]):
        # Freed while the API backs off: the command is taken, once.
        freed = f"busy-{uuid.uuid4().hex[:8]}"
        handle = await dev_env.client.start_workflow(BusyBuy.run, refusal, id=freed, task_queue=task_queue)
        command = asyncio.ensure_future(gateway.update(freed, BusyBuy.poke, 1))  # type: ignore[arg-type]
        await asyncio.sleep(0.3)
        assert not command.done(), "refused for now, and retried"
        await handle.signal(BusyBuy.free)
        assert await asyncio.wait_for(command, timeout=30) == 1
        assert await handle.result() == 1

        # Never freed: after its retries the caller gets a 503 to retry later, not a 500.
        stuck = f"busy-{uuid.uuid4().hex[:8]}"
        held = await dev_env.client.start_workflow(BusyBuy.run, refusal, id=stuck, task_queue=task_queue)
        with pytest.raises(Problem) as answered:
            await gateway.update(stuck, BusyBuy.poke, 1)  # type: ignore[arg-type]
        assert answered.value.status == 503
        assert answered.value.headers.get("Retry-After")
        await held.terminate("test finished")
