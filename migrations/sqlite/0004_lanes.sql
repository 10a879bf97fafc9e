-- Workers claim the oldest pending events of one store at a time.
CREATE INDEX events_pending_by_store ON events (store_id, seq) WHERE status = 'pending';

-- Batches that began with the event. A batch that never committed (the
-- process stopped during a plugin call) leaves it above 0, and the event's
-- calls are then journalled one by one (call_attempts).
ALTER TABLE events ADD COLUMN attempts BIGINT NOT NULL DEFAULT 0;

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
