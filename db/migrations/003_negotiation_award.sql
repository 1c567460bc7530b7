-- Negotiation: the open (or last) round of each buy, kept on the buy itself.
ALTER TABLE joint_buys
    ADD COLUMN current_round         integer,
    ADD COLUMN rounds                integer,
    ADD COLUMN best_and_final        boolean NOT NULL DEFAULT false,
    ADD COLUMN round_open            boolean NOT NULL DEFAULT false,
    ADD COLUMN round_closes_at       timestamptz,
    ADD COLUMN round_extensions_used integer NOT NULL DEFAULT 0,
    -- The award notice and the standstill it started (moved on by a dismissed challenge).
    ADD COLUMN notice_published_at   timestamptz,
    ADD COLUMN standstill_notice_on  date,
    ADD COLUMN standstill_days       integer,
    ADD COLUMN standstill_calendar   text,
    ADD COLUMN standstill_last_day   date,
    ADD COLUMN contracts_from        date,
    ADD COLUMN standstill_days_left  integer;

-- Every sealed bid, one row per `bid.submitted` (money unbounded: a valid event never fails here).
CREATE TABLE bids (
    buy_id               text NOT NULL REFERENCES joint_buys (buy_id),
    seq                  bigint NOT NULL,
    company_number       text NOT NULL,
    lot_id               text NOT NULL,
    round                integer NOT NULL,
    tiers                jsonb NOT NULL,
    evaluated_unit_price numeric NOT NULL,
    previous_unit_price  numeric,
    submitted_at         timestamptz NOT NULL,
    PRIMARY KEY (buy_id, seq)
);
CREATE INDEX bids_supplier ON bids (buy_id, company_number, lot_id, round);

-- Rank feedback after each round: each supplier's place per lot and how many were ranked.
CREATE TABLE round_ranks (
    buy_id         text NOT NULL REFERENCES joint_buys (buy_id),
    round          integer NOT NULL,
    lot_id         text NOT NULL,
    company_number text NOT NULL,
    rank           integer NOT NULL,
    bidders        integer NOT NULL,
    closed_at      timestamptz NOT NULL,
    PRIMARY KEY (buy_id, round, lot_id, company_number)
);

-- The lead's marks per tender; a re-entered or corrected mark replaces the earlier one.
CREATE TABLE scores (
    buy_id         text NOT NULL REFERENCES joint_buys (buy_id),
    lot_id         text NOT NULL,
    company_number text NOT NULL,
    quality        integer NOT NULL,
    social_value   integer NOT NULL,
    entered_by     text NOT NULL,
    entered_at     timestamptz NOT NULL,
    PRIMARY KEY (buy_id, lot_id, company_number)
);

-- What each assessed supplier was told before the award notice; a re-evaluation overwrites it.
CREATE TABLE assessment_summaries (
    buy_id         text NOT NULL REFERENCES joint_buys (buy_id),
    lot_id         text NOT NULL,
    company_number text NOT NULL,
    rank           integer NOT NULL,
    tenders        integer NOT NULL,
    successful     boolean NOT NULL,
    own            jsonb NOT NULL,
    winning        jsonb NOT NULL,
    recorded_at    timestamptz NOT NULL,
    PRIMARY KEY (buy_id, lot_id, company_number)
);

-- The winner per lot named by the latest award notice.
CREATE TABLE lot_awards (
    buy_id             text NOT NULL REFERENCES joint_buys (buy_id),
    lot_id             text NOT NULL,
    company_number     text NOT NULL,
    unit_price         numeric NOT NULL,
    committed_quantity bigint NOT NULL,
    value              numeric NOT NULL,
    total_score        numeric NOT NULL,
    tenders            integer NOT NULL,
    notified_at        timestamptz NOT NULL,
    PRIMARY KEY (buy_id, lot_id)
);

-- Challenges lodged during standstill and the lead's decision on each.
CREATE TABLE challenges (
    buy_id            text NOT NULL REFERENCES joint_buys (buy_id),
    challenge_id      text NOT NULL,
    company_number    text NOT NULL,
    grounds           text NOT NULL,
    working_days_left integer,
    lodged_at         timestamptz NOT NULL,
    status            text NOT NULL DEFAULT 'open',
    note              text NOT NULL DEFAULT '',
    remedy            text,
    corrected_scores  jsonb NOT NULL DEFAULT '[]',
    decided_by        text,
    decided_at        timestamptz,
    PRIMARY KEY (buy_id, challenge_id)
);

-- One call-off contract per council per lot, created once the standstill is over.
CREATE TABLE contracts (
    buy_id                text NOT NULL REFERENCES joint_buys (buy_id),
    council               text NOT NULL,
    lot_id                text NOT NULL,
    supplier              text NOT NULL,
    quantity              bigint NOT NULL,
    unit_price            numeric NOT NULL,
    total                 numeric NOT NULL,
    baseline_unit_price   numeric NOT NULL,
    baseline_total        numeric NOT NULL,
    saving                numeric NOT NULL,
    standalone_unit_price numeric NOT NULL,
    aggregation_dividend  numeric NOT NULL,
    created_at            timestamptz NOT NULL,
    PRIMARY KEY (buy_id, council, lot_id)
);
CREATE INDEX contracts_supplier ON contracts (buy_id, supplier);
