-- What a customer's event costs must not grow with their history.
-- Points due to expire, per customer: a seek on the due time instead of a
-- walk over every open lot (a customer with ten thousand orders has ten
-- thousand of them until they expire).
CREATE INDEX ledger_due ON ledger_entries (store_id, customer_id, expires_at)
    WHERE remaining > 0 AND expires_at IS NOT NULL;
