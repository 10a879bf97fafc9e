-- Customers' data rights: erasure, the store's retention of raw events,
-- and who read personal data.

-- How long the store keeps raw events (NULL: for ever), extra fields of
-- its own event types that carry personal data (JSON: {"type": ["field"]}),
-- and when the daily retention sweep last ran for it.
ALTER TABLE stores ADD COLUMN events_retention_days BIGINT;
ALTER TABLE stores ADD COLUMN pii_fields TEXT;
ALTER TABLE stores ADD COLUMN events_swept_at BIGINT;

-- A customer's events, for their export and their erasure.
CREATE INDEX events_by_customer ON events (store_id, customer_id, seq);

-- One row per erasure: the pseudonym the customer's kept records now
-- carry, and no personal data. `id_sha256` (of the store and the erased
-- id) refuses later events for the id and answers a repeated erasure; it
-- is cleared when the store re-creates the customer.
CREATE TABLE erasures (
    store_id        TEXT NOT NULL,
    pseudonym       TEXT NOT NULL,
    id_sha256       TEXT,
    erased_at       BIGINT NOT NULL,
    actor           TEXT NOT NULL,
    report          TEXT NOT NULL,
    recreated_at    BIGINT,
    PRIMARY KEY (store_id, pseudonym)
);
CREATE UNIQUE INDEX erasures_by_id ON erasures (store_id, id_sha256) WHERE id_sha256 IS NOT NULL;

-- Profiles with personal data that each key (or console session) read,
-- per UTC day.
CREATE TABLE pii_reads (
    store_id        TEXT NOT NULL,
    reader          TEXT NOT NULL,
    day             BIGINT NOT NULL,
    profiles        BIGINT NOT NULL,
    last_at         BIGINT NOT NULL,
    PRIMARY KEY (store_id, reader, day)
);
