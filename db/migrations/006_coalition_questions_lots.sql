-- Conditional sign-up: a council's price limit per lot, and where the stable coalition left it.
ALTER TABLE sign_ups
    ADD COLUMN max_unit_price        numeric,
    ADD COLUMN coalition             text,     -- 'in' | 'priced_out', once the lot settled
    ADD COLUMN priced_out_unit_price numeric;  -- the price that was above its limit

-- Each pass of the stable-coalition rule over a lot (the lead's working); a re-evaluation replaces
-- a lot's passes.
CREATE TABLE coalition_passes (
    buy_id         text NOT NULL REFERENCES joint_buys (buy_id),
    lot_id         text NOT NULL,
    pass           integer NOT NULL,
    aggregate      bigint NOT NULL,
    councils       integer NOT NULL,
    tenders        integer NOT NULL,
    company_number text,
    unit_price     numeric,
    priced_out     jsonb NOT NULL,
    recorded_at    timestamptz NOT NULL,
    PRIMARY KEY (buy_id, lot_id, pass)
);

-- Clarification questions and the lead's answers.
CREATE TABLE questions (
    buy_id         text NOT NULL REFERENCES joint_buys (buy_id),
    question_id    text NOT NULL,
    company_number text NOT NULL,
    lot_id         text,
    question       text NOT NULL,
    asked_at       timestamptz NOT NULL,
    answer         text,
    publish        text,                      -- 'all' | 'asker', once answered
    answered_by    text,
    answered_at    timestamptz,
    PRIMARY KEY (buy_id, question_id)
);

-- Why a lot ended early: the OCDS-style reason code of a cancelled lot.
ALTER TABLE buy_lots ADD COLUMN status_code text;
