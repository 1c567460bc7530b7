-- An issued API key's token is shown in the answer to its create and nowhere else: only its hash is
-- kept. Answers that an Idempotency-Key stored before this held the token in plain text; remove it
-- (a repeat of such a create is now answered 409 token-already-issued with the key's id).
UPDATE idempotency_keys
SET response = response - 'token'
WHERE method = 'POST' AND path = '/v1/api-keys' AND jsonb_typeof(response) = 'object' AND response ? 'token';
