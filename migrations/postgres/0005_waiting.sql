-- The customers of a store whose event waits for a retry, for the
-- dispatcher's claim: the store's waiting events by when they are due.
-- It replaces an index keyed by customer, made for a lookup per
-- candidate event that the claim no longer does.
DROP INDEX events_retrying;
CREATE INDEX events_waiting ON events (store_id, retry_at) WHERE retry_at IS NOT NULL AND status = 'pending';
