-- Workers claim the oldest pending events of one store at a time.
CREATE INDEX events_pending_by_store ON events (store_id, seq) WHERE status = 'pending';

-- A batch of the store's events that began and has not committed: set
-- before any plugin runs, removed in the batch's own commit. One left
-- behind (the process stopped during a plugin call) makes the store's
-- pending events up to `to_seq` suspect: their calls are then journalled
-- one by one (call_attempts).
CREATE TABLE open_batches (
    store_id        TEXT PRIMARY KEY,
    to_seq          BIGINT NOT NULL
);

-- A call of an event that was attempted before: started before the call,
-- finished after it returned (whatever it returned). A call started again
-- and again without finishing is given up on.
CREATE TABLE call_attempts (
    store_id        TEXT NOT NULL,
    event_id        TEXT NOT NULL,
    install_id      TEXT NOT NULL,
    started         BIGINT NOT NULL DEFAULT 0,
    finished        BIGINT NOT NULL DEFAULT 0,
    updated_at      BIGINT NOT NULL,
    PRIMARY KEY (store_id, event_id, install_id)
);

-- When a breaker disabled the install; events received before it are
-- recorded as failed for that install. Cleared when it is enabled again.
ALTER TABLE installs ADD COLUMN tripped_at BIGINT;

CREATE INDEX flows_due_by_store ON flows (store_id, due_at) WHERE state = 'active';
