-- Webhook subscriptions: an organisation (in a role) asks for some event types, of one buy or all.
-- The secret signs deliveries (Standard Webhooks, HMAC-SHA256), so it is kept to sign with; it is
-- shown to the subscriber once, when created.
CREATE TABLE webhooks (
    webhook_id      text PRIMARY KEY,
    role            text NOT NULL,
    organisation_id text NOT NULL,
    url             text NOT NULL,
    event_types     text[] NOT NULL,
    buy_id          text,
    secret          text NOT NULL,
    created_at      timestamptz NOT NULL DEFAULT now(),
    deleted_at      timestamptz
);
CREATE INDEX webhooks_live ON webhooks (buy_id) WHERE deleted_at IS NULL;
CREATE INDEX webhooks_owner ON webhooks (role, organisation_id) WHERE deleted_at IS NULL;

-- The outbox: one row per (subscription, event), written in the same transaction as the event, so
-- an event recorded is an event that will be delivered (or found not visible to that subscriber).
CREATE TABLE webhook_deliveries (
    delivery_id     bigserial PRIMARY KEY,
    webhook_id      text NOT NULL REFERENCES webhooks (webhook_id),
    buy_id          text NOT NULL,
    seq             bigint NOT NULL,
    event_type      text NOT NULL,
    -- pending (to send, again at next_attempt_at), delivered, skipped (not visible to the
    -- subscriber, or the subscription was deleted), failed (retried for the whole retry window)
    status          text NOT NULL DEFAULT 'pending',
    attempts        integer NOT NULL DEFAULT 0,
    next_attempt_at timestamptz NOT NULL DEFAULT now(),
    last_error      text,
    created_at      timestamptz NOT NULL DEFAULT now(),
    finished_at     timestamptz,
    UNIQUE (webhook_id, buy_id, seq)
);
CREATE INDEX webhook_deliveries_due ON webhook_deliveries (next_attempt_at) WHERE status = 'pending';
