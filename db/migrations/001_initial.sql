-- Identity: API keys are stored as SHA-256 hashes only; the token is shown once, at creation.
CREATE TABLE api_keys (
    key_id          text PRIMARY KEY,
    token_hash      text NOT NULL UNIQUE,
    role            text NOT NULL CHECK (role IN ('admin', 'lead', 'council', 'supplier', 'operator')),
    organisation_id text NOT NULL,
    name            text NOT NULL,
    created_at      timestamptz NOT NULL DEFAULT now(),
    revoked_at      timestamptz
);

-- UK local authorities (mySociety / ONS register), keyed by GSS code.
CREATE TABLE councils (
    gss_code             text PRIMARY KEY,
    local_authority_code text NOT NULL,
    official_name        text NOT NULL,
    nice_name            text NOT NULL,
    nation               text NOT NULL,
    region               text NOT NULL DEFAULT '',
    authority_type       text NOT NULL DEFAULT '',
    start_date           date,
    end_date             date,
    is_current           boolean NOT NULL,
    imported_at          timestamptz NOT NULL DEFAULT now()
);

-- Projections of each buy's events (the workflow is the authority; these are its read model).
CREATE TABLE joint_buys (
    buy_id         text PRIMARY KEY,
    lead           text NOT NULL,
    title          text NOT NULL,
    stage          text NOT NULL,
    stage_deadline timestamptz,
    terms          jsonb NOT NULL,
    outcome_reason text NOT NULL DEFAULT '',
    created_at     timestamptz NOT NULL,
    updated_at     timestamptz NOT NULL
);
CREATE INDEX joint_buys_stage ON joint_buys (stage);
CREATE INDEX joint_buys_lead ON joint_buys (lead);

CREATE TABLE buy_lots (
    buy_id        text NOT NULL REFERENCES joint_buys (buy_id),
    lot_id        text NOT NULL,
    title         text NOT NULL,
    unit          text NOT NULL,
    status        text NOT NULL DEFAULT 'open',
    status_reason text NOT NULL DEFAULT '',
    PRIMARY KEY (buy_id, lot_id)
);

CREATE TABLE demand_lines (
    buy_id              text NOT NULL REFERENCES joint_buys (buy_id),
    council             text NOT NULL,
    lot_id              text NOT NULL,
    quantity            bigint NOT NULL CHECK (quantity > 0),
    baseline_unit_price numeric(14, 2) NOT NULL CHECK (baseline_unit_price >= 0),
    budget_ceiling_gbp  numeric(14, 2),
    registered_at       timestamptz NOT NULL,
    PRIMARY KEY (buy_id, council, lot_id)
);

CREATE TABLE sign_ups (
    buy_id       text NOT NULL REFERENCES joint_buys (buy_id),
    council      text NOT NULL,
    lot_id       text NOT NULL,
    quantity     bigint NOT NULL CHECK (quantity > 0),
    confirmed_at timestamptz NOT NULL,
    PRIMARY KEY (buy_id, council, lot_id)
);

-- Where each council stands in each buy: registered, withdrawn, signed_up, dropped_out.
CREATE TABLE buy_councils (
    buy_id     text NOT NULL REFERENCES joint_buys (buy_id),
    council    text NOT NULL,
    status     text NOT NULL,
    updated_at timestamptz NOT NULL,
    PRIMARY KEY (buy_id, council)
);

-- The append-only audit log. (buy_id, seq) is unique, so a retried write never adds a row.
CREATE TABLE events (
    buy_id      text NOT NULL,
    seq         bigint NOT NULL CHECK (seq > 0),
    type        text NOT NULL,
    actor       text NOT NULL,
    at          timestamptz NOT NULL,
    data        jsonb NOT NULL,
    recorded_at timestamptz NOT NULL DEFAULT now(),
    PRIMARY KEY (buy_id, seq)
);

-- Idempotency-Key: a repeat of the same request returns the first answer.
CREATE TABLE idempotency_keys (
    principal    text NOT NULL,
    key          text NOT NULL,
    method       text NOT NULL,
    path         text NOT NULL,
    request_hash text NOT NULL,
    status_code  integer NOT NULL,
    response     jsonb,
    created_at   timestamptz NOT NULL DEFAULT now(),
    PRIMARY KEY (principal, key)
);
