"""The negotiation stage of the joint-buy workflow: sealed rounds of volume-ladder bids.

A round is a durable deadline (the stage's, `BuyState.stage_deadline`) that a late bid may push back
(anti-sniping) and that closes early once every qualified supplier has bid on every open lot.
After each round each supplier learns only its own rank. Runs inside the workflow
(deterministic): all state lives in `BuyState`, so a run that continues as new resumes the round.
"""

from __future__ import annotations

from temporalio import workflow

with workflow.unsafe.imports_passed_through():
    from messages.joint_buy import SubmitBid
    from procurement import rounds as round_rules
    from procurement.models import Bid, NegotiationState, RoundResult, Stage
    from procurement.pricing import extend_deadline
    from workflows.stage import Next, StageWindow

# Buys that reached negotiation before rounds existed only waited there: replaying them must not
# open a round (a timer they never started).
NEGOTIATION_PATCH = "negotiation-rounds"


class NegotiationStage(StageWindow):
    """Round after round; each ends at its deadline, once every qualified supplier has bid, or when
    the lead closes it. The last round's close ends the stage."""

    stage = Stage.NEGOTIATION

    async def enter(self) -> None:
        if workflow.patched(NEGOTIATION_PATCH):
            self.start()

    def start(self) -> None:
        """Open the first round on entering negotiation (a resumed run finds it open already)."""
        if self._state.negotiation is None:
            self._state.negotiation = NegotiationState(rounds=round_rules.rounds_to_run(self._state))
            self._open_round(1)

    def _open_round(self, number: int) -> None:
        neg = self._neg()
        now = workflow.now()
        neg.open_round(number, now)
        closes_at = now + self._state.terms.negotiation.round_window
        self._buy.move_deadline(closes_at)
        self._buy.emit(
            "round.opened",
            "system",
            {
                "round": number,
                "rounds": neg.rounds,
                "best_and_final": number == neg.rounds,
                "closes_at": closes_at.isoformat(),
                "committed_quantity": round_rules.committed_quantities(self._state),
                "qualified": round_rules.qualified_suppliers(self._state),
            },
        )

    def submit(self, cmd: SubmitBid, priced: round_rules.PricedBid) -> Bid:
        """Take a bid that passed `round_rules.check_bid`; a late one extends the round."""
        neg = self._neg()
        now = workflow.now()
        seq = self._buy.emit(
            "bid.submitted",
            f"supplier:{cmd.company_number}",
            {
                "company_number": cmd.company_number,
                "lot_id": cmd.lot_id,
                "round": neg.round,
                "tiers": [t.model_dump(mode="json") for t in priced.tiers],
                "evaluated_unit_price": str(priced.evaluated_unit_price),
                "previous_unit_price": None if priced.previous is None else str(priced.previous),
            },
        )
        bid = Bid(
            supplier=cmd.company_number,
            lot_id=cmd.lot_id,
            round=neg.round,
            tiers=priced.tiers,
            evaluated_unit_price=priced.evaluated_unit_price,
            submitted_at=now,
            seq=seq,
        )
        neg.take(bid)
        closes_at = self._state.stage_deadline
        assert closes_at is not None, "a bid passed its check: the round is open"
        terms = self._state.terms.negotiation
        ext = extend_deadline(
            closes_at, now, terms.extension_window, neg.extensions_used, terms.max_extensions
        )
        if ext.deadline != closes_at:
            neg.extensions_used = ext.extensions_used
            self._buy.move_deadline(ext.deadline)
            self._buy.emit(
                "round.extended",
                "system",
                {
                    "round": neg.round,
                    "closes_at": ext.deadline.isoformat(),
                    "extensions_used": ext.extensions_used,
                    "max_extensions": terms.max_extensions,
                },
            )
        return bid

    def work_done(self) -> bool:
        return round_rules.round_complete(self._state)

    def close(self, how: str) -> Next | None:
        """Close the open round; open the next, or after the last move on to evaluation."""
        if self.work_done():
            how = "closed early: every qualified supplier bid"
        neg = self._neg()
        ranks = round_rules.round_ranks(self._state)
        neg.results.append(RoundResult(round=neg.round, closed_at=workflow.now(), how=how, ranks=ranks))
        self._buy.emit(
            "round.closed",
            "system",
            {
                "round": neg.round,
                "how": how,
                "bids": {lot: neg.bids_on(lot, this_round=True) for lot in ranks},
                "ranks": ranks,
            },
        )
        if neg.round < neg.rounds:
            self._open_round(neg.round + 1)
            return None
        for lot in round_rules.lots_without_bids(self._state):
            why = "no valid bid in any round"
            self._state.unsuccessful_lots[lot] = why
            self._buy.emit("lot.unsuccessful", "system", {"lot_id": lot, "reason": why})
        if not ranks:
            return Next(Stage.UNSUCCESSFUL, "no valid bid on any lot")
        return Next(Stage.EVALUATION, f"round {neg.round} (best and final) {how}")

    def _neg(self) -> NegotiationState:
        assert self._state.negotiation is not None, "negotiation has started"
        return self._state.negotiation
