"""One joint buy, from demand to its outcome, as a single long-lived Temporal workflow.

The workflow is the authority on the process: commands arrive as updates, are checked by
`procurement` rules in validators (a refused command leaves no trace in history), change the state,
and become events. A background flusher writes events to PostgreSQL in batches through the
`record_events` activity; an update returns only once its own event is recorded, so a client that
got an answer can read it back from the API.
"""

from __future__ import annotations

from typing import Any

from temporalio import workflow

with workflow.unsafe.imports_passed_through():
    from messages.joint_buy import (
        AnswerQuestion,
        AskQuestion,
        BidReceipt,
        BuyOutcome,
        Cancel,
        CancelLot,
        ChallengeReceipt,
        CloseStage,
        DecideChallenge,
        DecideExclusion,
        EnterScores,
        JointBuyInput,
        LodgeChallenge,
        QuestionReceipt,
        Receipt,
        RegisterDemand,
        RegisterSupplier,
        ScoresReceipt,
        SignUp,
        SubmitBid,
        WithdrawDemand,
    )
    from procurement import award as award_rules
    from procurement import clarifications as question_rules
    from procurement import demand as demand_rules
    from procurement import lots as lot_rules
    from procurement import rounds as round_rules
    from procurement import suppliers as supplier_rules
    from procurement.models import BuyState, Challenge, Marks, Question, Stage
    from workflows.assurance import AssuranceStage
    from workflows.buy import Buy
    from workflows.clarifications import Clarifications
    from workflows.commands import command
    from workflows.demand import DemandStage, SignUpStage
    from workflows.evaluation import EvaluationStage
    from workflows.negotiation import NegotiationStage
    from workflows.stage import StageWindow, run_stage
    from workflows.standstill import StandstillStage, SuspendedStage

# A challenge may send the buy from standstill back to evaluation, so these run until it leaves them.
_AWARD_STAGES = (Stage.EVALUATION, Stage.STANDSTILL, Stage.SUSPENDED)


@workflow.defn(name="JointBuyWorkflow")
class JointBuyWorkflow:
    @workflow.init
    def __init__(self, inp: JointBuyInput) -> None:
        self._buy = Buy(inp)
        self._demand = DemandStage(self._buy)
        self._sign_up = SignUpStage(self._buy)
        self._assurance = AssuranceStage(self._buy)
        self._negotiation = NegotiationStage(self._buy)
        self._evaluation = EvaluationStage(self._buy)
        self._standstill = StandstillStage(self._buy)
        self._suspended = SuspendedStage(self._buy)
        self._questions = Clarifications(self._buy)

    @workflow.run
    async def run(self, inp: JointBuyInput) -> BuyOutcome:  # noqa: ARG002 - the state came to __init__
        """The lifecycle. Each stage runs while the buy is in it (a resumed run skips those behind
        it); any stage may end the buy instead: unsuccessful, or cancelled by the lead."""
        async with self._buy.recording():
            if self._buy.state.stage == Stage.DRAFT:
                self._demand.open()
            await self._through(self._demand)  # → sign-up
            await self._through(self._sign_up)  # → assurance, if viable
            await self._through(self._assurance)  # → negotiation, with whoever qualified
            await self._through(self._negotiation)  # round after round → evaluation
            while self._buy.state.stage in _AWARD_STAGES:
                await self._through(self._evaluation)  # → award notice, standstill
                await self._through(self._standstill)  # → awarded: contracts; or a challenge suspends it
                await self._through(self._suspended)  # → standstill resumes, evaluation again, or cancelled
        return self._buy.outcome()

    async def _through(self, stage: StageWindow) -> None:
        await run_stage(self._buy, stage)

    # ---- commands: each checks its rule in validator and handler (see workflows.commands) ------

    @command(
        RegisterDemand, lambda state, cmd: demand_rules.check_register_demand(state, cmd.lines, cmd.council)
    )
    async def register_demand(self, cmd: RegisterDemand, _checked: None) -> Receipt:
        return await self._buy.receipt(self._demand.register(cmd))

    @command(WithdrawDemand, lambda state, cmd: demand_rules.check_withdraw_demand(state, cmd.council))
    async def withdraw_demand(self, cmd: WithdrawDemand, _checked: None) -> Receipt:
        return await self._buy.receipt(self._demand.withdraw(cmd))

    @command(SignUp, lambda state, cmd: demand_rules.check_sign_up(state, cmd.council, cmd.lines))
    async def sign_up(self, cmd: SignUp, _checked: None) -> Receipt:
        return await self._buy.receipt(self._sign_up.confirm(cmd))

    @command(CloseStage, lambda state, cmd: demand_rules.check_close_stage(state, cmd.stage))
    async def close_stage(self, cmd: CloseStage, _checked: None) -> Receipt:
        buy = self._buy
        buy.close_requested = cmd.stage
        negotiation = buy.state.negotiation
        round_open = negotiation.round if negotiation else 0
        data: dict[str, Any] = {"stage": cmd.stage.value}
        if cmd.stage == Stage.NEGOTIATION:
            data["round"] = round_open
        seq = buy.emit("stage.close_requested", cmd.actor, data)
        # Answer once the stage (or, in negotiation, the round) has actually moved on, so the
        # caller sees what came next.
        await workflow.wait_condition(
            lambda: (
                buy.state.stage != cmd.stage
                or (buy.state.negotiation is not None and buy.state.negotiation.round != round_open)
            )
        )
        return await buy.receipt(max(seq, buy.last_seq))

    @command(Cancel, lambda state, _cmd: demand_rules.check_cancel(state))
    async def cancel(self, cmd: Cancel, _checked: None) -> Receipt:
        self._buy.emit(
            "buy.cancelled", cmd.actor, {"reason": cmd.reason, "stage": self._buy.state.stage.value}
        )
        self._buy.move_to(Stage.CANCELLED, reason=cmd.reason)
        return await self._buy.receipt(self._buy.last_seq)

    @workflow.update
    async def confirm_started(self) -> Receipt:
        """Answers once the buy's opening events are recorded (the API's create waits for it)."""
        self._buy.count()
        await workflow.wait_condition(lambda: self._buy.state.stage != Stage.DRAFT)
        return await self._buy.receipt(self._buy.last_seq)

    @command(
        RegisterSupplier,
        lambda state, cmd: supplier_rules.check_register_supplier(state, cmd.company_number),
    )
    async def register_supplier(self, cmd: RegisterSupplier, _checked: None) -> Receipt:
        return await self._buy.receipt(self._assurance.register(cmd))

    @command(
        DecideExclusion,
        lambda state, cmd: supplier_rules.check_decide_exclusion(state, cmd.company_number, cmd.reason),
    )
    async def decide_exclusion(self, cmd: DecideExclusion, _checked: None) -> Receipt:
        seq = self._assurance.decide(cmd.company_number, cmd.exclude, cmd.reason, cmd.actor)
        return await self._buy.receipt(seq)

    @command(
        SubmitBid,
        lambda state, cmd: round_rules.check_bid(
            state, cmd.company_number, cmd.lot_id, cmd.tiers, workflow.now()
        ),
    )
    async def submit_bid(self, cmd: SubmitBid, priced: round_rules.PricedBid) -> BidReceipt:
        bid = self._negotiation.submit(cmd, priced)
        negotiation, closes_at = self._buy.state.negotiation, self._buy.state.stage_deadline
        assert negotiation is not None and closes_at is not None, "the bid was taken in an open round"
        # The round as this bid left it: by the time the bid is recorded, the round may have closed
        # (this bid may have been the last one it waited for) and the next one opened.
        extensions_used = negotiation.extensions_used
        receipt = await self._buy.receipt(bid.seq)
        return BidReceipt(
            **receipt.model_dump(),
            round=bid.round,
            lot_id=bid.lot_id,
            evaluated_unit_price=bid.evaluated_unit_price,
            previous_unit_price=priced.previous,
            committed_quantity=round_rules.committed_quantities(self._buy.state)[bid.lot_id],
            round_closes_at=closes_at,
            extensions_used=extensions_used,
            tiers=bid.tiers,
        )

    @command(
        EnterScores,
        lambda state, cmd: award_rules.check_marks(
            state, cmd.company_number, cmd.lot_id, cmd.quality, cmd.social_value
        ),
    )
    async def enter_scores(self, cmd: EnterScores, marks: Marks) -> ScoresReceipt:
        seq = self._evaluation.enter_scores(cmd, marks)
        still_to_score = len(award_rules.missing_marks(self._buy.state))  # as this mark left it
        receipt = await self._buy.receipt(seq)
        return ScoresReceipt(**receipt.model_dump(), still_to_score=still_to_score)

    @command(LodgeChallenge, lambda state, cmd: award_rules.check_challenge(state, cmd.company_number))
    async def lodge_challenge(self, cmd: LodgeChallenge, _checked: None) -> ChallengeReceipt:
        challenge = self._standstill.challenge(cmd)
        # The standstill as this challenge left it, read before awaiting: by the time the event is
        # recorded the lead may have decided (an upheld decision clears the standstill).
        standstill = self._buy.state.standstill
        assert standstill is not None, "the challenge just suspended the standstill"
        days_left = standstill.days_left or 0
        receipt = await self._buy.receipt(self._buy.last_seq)
        return ChallengeReceipt(
            **receipt.model_dump(), challenge_id=challenge.challenge_id, days_left=days_left
        )

    @command(DecideChallenge, lambda state, cmd: _check_decision(state, cmd))
    async def decide_challenge(self, cmd: DecideChallenge, challenge: Challenge) -> Receipt:
        self._suspended.decide(cmd, challenge)
        return await self._buy.receipt(self._buy.last_seq)

    @command(
        AskQuestion,
        lambda state, cmd: question_rules.check_ask(state, cmd.lot_id, cmd.question, workflow.now()),
    )
    async def ask_question(self, cmd: AskQuestion, _checked: None) -> QuestionReceipt:
        question_id, seq = self._questions.ask(cmd)
        receipt = await self._buy.receipt(seq)
        return QuestionReceipt(**receipt.model_dump(), question_id=question_id)

    @command(
        AnswerQuestion, lambda state, cmd: question_rules.check_answer(state, cmd.question_id, cmd.answer)
    )
    async def answer_question(self, cmd: AnswerQuestion, question: Question) -> Receipt:
        return await self._buy.receipt(self._questions.answer(cmd, question))

    @command(CancelLot, lambda state, cmd: lot_rules.check_cancel_lot(state, cmd.lot_id))
    async def cancel_lot(self, cmd: CancelLot, _checked: None) -> Receipt:
        seq = self._questions.cancel_lot(cmd)
        return await self._buy.receipt(max(seq, self._buy.last_seq))

    @workflow.query
    def get_state(self) -> BuyState:
        return self._buy.state


def _check_decision(state: BuyState, cmd: DecideChallenge) -> Challenge:
    corrected = {
        c.lot_id: Marks(quality=c.quality, social_value=c.social_value) for c in cmd.corrected_scores
    }
    upheld = cmd.outcome == "upheld"
    return award_rules.check_decide_challenge(state, cmd.challenge_id, upheld, cmd.remedy, corrected)
