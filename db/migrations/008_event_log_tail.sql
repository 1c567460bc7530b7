-- One round trip where a write to a buy's event log took two: wait for the buy's writer lock (held
-- to the end of the transaction), then read where its log ends. Inside this function the SELECT
-- takes its snapshot after the lock is granted (a volatile function's statements each take their
-- own), so it sees everything the previous writer committed.
CREATE FUNCTION event_log_tail(buy text) RETURNS bigint
LANGUAGE plpgsql VOLATILE AS $$
BEGIN
    PERFORM pg_advisory_xact_lock(hashtextextended(buy, 0));
    RETURN (SELECT coalesce(max(seq), 0) FROM events WHERE buy_id = buy);
END
$$;
