-- An Idempotency-Key claim is held by one attempt (`owner`) for as long as its lease runs; the
-- owner renews the lease while the command runs. A claim whose lease ran out (its owner died, or
-- its outcome was left unknown by a timeout) is taken over by the next repeat of the same request,
-- which runs the command again under the same derived ids, so Temporal de-duplicates it.
ALTER TABLE idempotency_keys ADD COLUMN owner text;
ALTER TABLE idempotency_keys ADD COLUMN lease_until timestamptz;
