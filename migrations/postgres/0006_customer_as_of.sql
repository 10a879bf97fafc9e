-- The customer as the first attempt of a failed call saw them (tier,
-- balance, statistics; JSON): a retry or re-drive decides the event as it
-- happened, not on the customer as later events left them.
ALTER TABLE failures ADD COLUMN customer_as_of TEXT;
