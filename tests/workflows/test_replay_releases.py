"""Every history recorded at a released version keeps replaying against today's workflow.

`tests/histories/releases/<release>/*.json` are written by `make record-histories` (see the README's
"Changing the workflow"): one folder per release, kept for good. A buy started under any of those
releases may still be running, so today's code must make the same commands on each history; a
change that does not is guarded with `workflow.patched`.
"""

from __future__ import annotations

from pathlib import Path

from temporalio import workflow

with workflow.unsafe.imports_passed_through():
    import pytest
    from temporalio.client import WorkflowHistory
    from temporalio.worker import Replayer

    from tests.support import CONVERTER
    from workflows.joint_buy import JointBuyWorkflow


def recorded() -> list[Path]:
    releases = Path(__file__).resolve().parents[1] / "histories" / "releases"
    return sorted(releases.glob("*/*.json"))


def test_some_release_is_recorded() -> None:
    assert recorded(), "no release histories under tests/histories/releases: run `make record-histories`"


@pytest.mark.parametrize("path", recorded(), ids=lambda p: f"{p.parent.name}/{p.stem}")
async def test_release_history_replays(path: Path) -> None:
    history = WorkflowHistory.from_json(
        f"jb-{path.parent.name}-{path.stem}", path.read_text(encoding="utf-8")
    )
    replayer = Replayer(workflows=[JointBuyWorkflow], data_converter=CONVERTER)
    result = await replayer.replay_workflow(history, raise_on_replay_failure=False)
    assert result.replay_failure is None, f"{path.name}: {result.replay_failure}"
