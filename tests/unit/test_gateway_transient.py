"""Which of Temporal's refusals the gateway sends again under the same update id (backing off)
instead of answering the client with an error."""

from __future__ import annotations

import pytest
from temporalio.service import RPCError, RPCStatusCode

from api.gateway import _transient


@pytest.mark.parametrize(
    ("status", "message", "transient"),
    [
        # Another API process's commands fill the buy's 10 in-flight updates.
        (
            RPCStatusCode.RESOURCE_EXHAUSTED,
            "limit on number of concurrent in-flight updates has been reached (10)",
            True,
        ),
        # The server reloaded the run and dropped its in-flight updates (seen under scale-out).
        (RPCStatusCode.UNAVAILABLE, "workflow update was aborted", True),
        # The server itself is away: 503 with Retry-After, after the SDK's own retries.
        (RPCStatusCode.UNAVAILABLE, "connection refused", False),
        (RPCStatusCode.NOT_FOUND, "workflow execution already completed", False),
        (RPCStatusCode.INVALID_ARGUMENT, "bad request", False),
    ],
)
def test_transient_refusals_are_retried_others_answered(
    status: RPCStatusCode, message: str, transient: bool
) -> None:
    assert _transient(RPCError(message, status, b"")) is transient
