"""A buy that handed over (continued as new) in every stage that takes commands keeps replaying.

`tests/histories/handover_<nn>_<stage>.json` are the runs of one buy, first to last, recorded by
`python -m tests.histories.record handover` with a run handing over every 10 messages: in demand
(one of them during a burst of registrations), sign-up, assurance (due while a supplier check still
ran, and again with the lead's decisions pending), negotiation, evaluation, standstill and
suspended. Every run must replay against today's workflow. The fixture is guarded too: the files
are one whole chain, and some run really handed over in each of those stages, on that stage's own
commands, so these tests cannot pass on histories that lack a handover.
"""

from __future__ import annotations

from itertools import pairwise
from pathlib import Path

from temporalio import workflow

# This module defines a workflow, so the sandbox imports it again: nothing at import time may touch
# the file system (the files are listed when pytest collects, in `pytest_generate_tests`).
with workflow.unsafe.imports_passed_through():
    import pytest
    from temporalio.client import WorkflowHistory
    from temporalio.worker import Replayer

    from messages.joint_buy import BuyOutcome, JointBuyInput
    from procurement.models import Stage
    from tests.histories import runs
    from tests.histories.record import HANDOVER_ID, HANDOVER_STAGES
    from tests.support import CONVERTER
    from workflows.joint_buy import JointBuyWorkflow

# What each stage's handover runs took, at least: the stage's own commands (and clarifications
# where they are taken). Suppliers register in demand and sign-up; assurance takes the lead's
# exclusion decisions. A challenge moves standstill to suspended and a dismissal moves it back, so
# the run that hands over in standstill took both, the one that hands over suspended a lodging.
COMMANDS: dict[Stage, set[str]] = {
    Stage.DEMAND: {
        "register_demand",
        "withdraw_demand",
        "register_supplier",
        "ask_question",
        "answer_question",
    },
    Stage.SIGN_UP: {"sign_up", "register_supplier", "ask_question"},
    Stage.ASSURANCE: {"decide_exclusion", "ask_question"},
    Stage.NEGOTIATION: {"submit_bid"},
    Stage.EVALUATION: {"enter_scores"},
    Stage.STANDSTILL: {"lodge_challenge", "decide_challenge", "answer_question"},
    Stage.SUSPENDED: {"lodge_challenge", "answer_question"},
}


def paths() -> list[Path]:
    return sorted((Path(__file__).resolve().parents[1] / "histories").glob("handover_*.json"))


def load(path: Path) -> WorkflowHistory:
    return WorkflowHistory.from_json(HANDOVER_ID, path.read_text(encoding="utf-8"))


def pytest_generate_tests(metafunc: pytest.Metafunc) -> None:
    if "path" in metafunc.fixturenames:
        metafunc.parametrize("path", paths(), ids=lambda p: p.stem)


def test_the_handover_stages_are_every_stage_that_takes_commands() -> None:
    assert set(COMMANDS) == set(HANDOVER_STAGES)
    assert all(s not in HANDOVER_STAGES for s in (Stage.DRAFT, *[s for s in Stage if s.terminal]))


def test_the_files_are_every_run_of_one_buy() -> None:
    chain = [runs.read(load(p)) for p in paths()]
    assert len(chain) > len(HANDOVER_STAGES), [p.name for p in paths()]
    first, last = chain[0], chain[-1]
    assert (first.started_in, first.continued_from) == (Stage.DRAFT, "")
    for before, after in pairwise(chain):
        assert before.handed_over_to == after.run_id and after.continued_from == before.run_id
        assert after.started_in == before.ended_in  # the next run resumes where this one stopped
    assert not last.handed_over and last.ended_in == Stage.AWARDED
    assert all(r.messages_per_run == 10 for r in chain)


def test_a_run_hands_over_in_every_stage_that_takes_commands() -> None:
    histories = [load(p) for p in paths()]
    chain = [runs.read(h) for h in histories]
    took: dict[Stage, set[str]] = {}
    for run in chain:
        if not run.handed_over:
            continue
        # The stage the continue-as-new carried is the stage the run last published.
        assert run.ended_in == run.published_stage, run
        # Each handover was forced by the run's own message budget.
        assert len(run.updates) >= run.messages_per_run, run
        took.setdefault(run.ended_in, set()).update(run.updates)
    for stage in HANDOVER_STAGES:
        assert stage in took, f"no run handed over in {stage.value}"
        assert COMMANDS[stage] <= took[stage], (stage, took[stage])
    # The run that resumed a suspended buy took the lead's decision.
    assert any(r.started_in == Stage.SUSPENDED and "decide_challenge" in r.updates for r in chain)
    # In assurance the run became due to hand over while a supplier check still ran: it took
    # commands during the checks and none after them, and handed over once they were done.
    due_during_checks = [
        run
        for run, history in zip(chain, histories, strict=True)
        if run.ended_in == Stage.ASSURANCE
        and run.handed_over
        and (around := runs.updates_around_checks(history))[0]
        and not around[1]
    ]
    assert due_during_checks, "no assurance run became due to hand over while its checks ran"


async def test_handover_run_replays(path: Path) -> None:
    replayer = Replayer(workflows=[JointBuyWorkflow], data_converter=CONVERTER)
    result = await replayer.replay_workflow(load(path), raise_on_replay_failure=False)
    assert result.replay_failure is None, f"{path.name}: {result.replay_failure}"


@workflow.defn(name="JointBuyWorkflow")
class HandsOverLater(JointBuyWorkflow):
    """Changed: ignores the run's message budget (as if the budget were raised without a patch)."""

    @workflow.init
    def __init__(self, inp: JointBuyInput) -> None:
        super().__init__(inp.model_copy(update={"messages_per_run": 1800}))

    @workflow.run
    async def run(self, inp: JointBuyInput) -> BuyOutcome:
        return await super().run(inp)


async def test_a_workflow_that_hands_over_later_fails_to_replay_the_runs() -> None:
    """The replay has teeth on handovers: every run that handed over fails with the change, and
    the last run (which never hands over) still replays."""
    replayer = Replayer(workflows=[HandsOverLater], data_converter=CONVERTER)
    for path in paths():
        history = load(path)
        result = await replayer.replay_workflow(history, raise_on_replay_failure=False)
        if runs.read(history).handed_over:
            assert isinstance(result.replay_failure, workflow.NondeterminismError), path.name
        else:
            assert result.replay_failure is None, f"{path.name}: {result.replay_failure}"
