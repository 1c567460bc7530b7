"""The negotiation stage of the joint-buy workflow: sealed rounds of volume-ladder bids.

A round is a durable deadline (`BuyState.stage_deadline`) that a late bid may push back
(anti-sniping) and that closes early once every qualified supplier has bid on every open lot.
After each round each supplier learns only its own rank. Runs inside the workflow
(deterministic): all state lives in `BuyState`, so a run that continues as new resumes the round.
"""

from __future__ import annotations

from temporalio import workflow

with workflow.unsafe.imports_passed_through():
    from procurement import rounds as rules
    from procurement.models import Bid, NegotiationState, RoundResult, Stage
    from procurement.pricing import extend_deadline
    from workflows.messages import SubmitBid
    from workflows.stage import StagePart


class NegotiationStage(StagePart):
    def start(self) -> None:
        """Open the first round on entering negotiation (a resumed run finds it open already)."""
        if self._s.negotiation is None:
            self._s.negotiation = NegotiationState(rounds=rules.rounds_to_run(self._s))
            self._open_round(1)

    def _open_round(self, number: int) -> None:
        neg = self._neg()
        now = workflow.now()
        neg.round = number
        neg.round_opened_at = now
        neg.round_deadline = now + self._s.terms.negotiation.round_window
        neg.extensions_used = 0
        self._s.stage_deadline = neg.round_deadline
        self._emit(
            "round.opened",
            "system",
            {
                "round": number,
                "rounds": neg.rounds,
                "best_and_final": number == neg.rounds,
                "closes_at": neg.round_deadline.isoformat(),
                "committed_quantity": rules.committed_quantities(self._s),
                "qualified": rules.qualified_suppliers(self._s),
            },
        )

    def submit(self, cmd: SubmitBid, priced: rules.PricedBid) -> Bid:
        """Take a bid that passed `rules.check_bid`; a late one extends the round."""
        neg = self._neg()
        now = workflow.now()
        seq = self._emit(
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
        neg.bids.append(bid)
        assert neg.round_deadline is not None
        terms = self._s.terms.negotiation
        ext = extend_deadline(
            neg.round_deadline, now, terms.extension_window, neg.extensions_used, terms.max_extensions
        )
        if ext.deadline != neg.round_deadline:
            neg.round_deadline, neg.extensions_used = ext
            self._s.stage_deadline = ext.deadline
            self._emit(
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

    def ready_to_close(self) -> bool:
        return rules.round_complete(self._s)

    def close_round(self, how: str) -> None:
        neg = self._neg()
        ranks = rules.round_ranks(self._s)
        neg.results.append(RoundResult(round=neg.round, closed_at=workflow.now(), how=how, ranks=ranks))
        in_round = [b for b in neg.bids if b.round == neg.round]
        self._emit(
            "round.closed",
            "system",
            {
                "round": neg.round,
                "how": how,
                "bids": {lot: sum(b.lot_id == lot for b in in_round) for lot in ranks},
                "ranks": ranks,
            },
        )
        neg.round_deadline = None
        if neg.round < neg.rounds:
            self._open_round(neg.round + 1)
            return
        for lot in rules.lots_without_bids(self._s):
            why = "no valid bid in any round"
            self._s.unsuccessful_lots[lot] = why
            self._emit("lot.unsuccessful", "system", {"lot_id": lot, "reason": why})
        if not ranks:
            self._finish(Stage.UNSUCCESSFUL, "no valid bid on any lot")
            return
        self._enter(Stage.EVALUATION, deadline=None, reason=f"round {neg.round} (best and final) {how}")

    def _neg(self) -> NegotiationState:
        assert self._s.negotiation is not None, "negotiation has started"
        return self._s.negotiation
