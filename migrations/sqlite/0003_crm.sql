-- Population fits, segments, surveys, churn assessments, rescue flows and
-- message delivery.

-- When a refund happened, so that a population as of an earlier instant
-- leaves later refunds out.
ALTER TABLE refunds ADD COLUMN occurred_at BIGINT;

-- The latest fitted model per install (segmenter, churn-rescue).
CREATE TABLE models (
    install_id      TEXT PRIMARY KEY,
    store_id        TEXT NOT NULL,
    plugin          TEXT NOT NULL,
    as_of           BIGINT NOT NULL,
    model           BLOB NOT NULL,
    summary         TEXT NOT NULL,
    customers       BIGINT NOT NULL,
    elapsed_ms      BIGINT NOT NULL,
    fitted_at       BIGINT NOT NULL,
    -- The last fit's failure, if the last attempt failed (the model above
    -- is then the one before it).
    last_error      TEXT,
    last_attempt_at BIGINT NOT NULL
);

-- Segment memberships per (segmenter install, customer).
CREATE TABLE memberships (
    store_id        TEXT NOT NULL,
    install_id      TEXT NOT NULL,
    customer_id     TEXT NOT NULL,
    segment         TEXT NOT NULL,
    attributes      TEXT NOT NULL,
    since           BIGINT NOT NULL,
    PRIMARY KEY (install_id, customer_id, segment)
);
CREATE INDEX memberships_by_segment ON memberships (store_id, segment, customer_id);
CREATE INDEX memberships_by_customer ON memberships (store_id, customer_id);

CREATE TABLE surveys (
    store_id        TEXT NOT NULL,
    id              TEXT NOT NULL,
    kind            TEXT NOT NULL,
    questions       TEXT NOT NULL,
    created_at      BIGINT NOT NULL,
    PRIMARY KEY (store_id, id)
);

-- One row per `survey.submitted` event, with the scorer's result.
CREATE TABLE survey_responses (
    store_id        TEXT NOT NULL,
    event_id        TEXT NOT NULL,
    survey_id       TEXT NOT NULL,
    customer_id     TEXT NOT NULL,
    submitted_at    BIGINT NOT NULL,
    answers         TEXT NOT NULL,
    install_id      TEXT,
    score           TEXT,
    PRIMARY KEY (store_id, event_id)
);
CREATE INDEX survey_responses_by_survey ON survey_responses (store_id, survey_id);

-- The latest churn assessment per (churn-rescue install, customer).
CREATE TABLE assessments (
    store_id        TEXT NOT NULL,
    install_id      TEXT NOT NULL,
    customer_id     TEXT NOT NULL,
    p_alive         DOUBLE PRECISION NOT NULL,
    risk            DOUBLE PRECISION NOT NULL,
    value_cents     BIGINT NOT NULL,
    details         TEXT NOT NULL,
    as_of           BIGINT NOT NULL,
    assessed_at     BIGINT NOT NULL,
    PRIMARY KEY (install_id, customer_id)
);
CREATE INDEX assessments_by_customer ON assessments (store_id, customer_id);

-- Rescue flows. An active flow has the step that is due next and when.
CREATE TABLE flows (
    id              TEXT PRIMARY KEY,
    store_id        TEXT NOT NULL,
    install_id      TEXT NOT NULL,
    customer_id     TEXT NOT NULL,
    state           TEXT NOT NULL,
    step            BIGINT NOT NULL,
    due_at          BIGINT,
    started_at      BIGINT NOT NULL,
    ended_at        BIGINT,
    updated_at      BIGINT NOT NULL,
    p_alive         DOUBLE PRECISION NOT NULL,
    value_cents     BIGINT NOT NULL,
    history         TEXT NOT NULL
);
CREATE UNIQUE INDEX flows_one_active ON flows (store_id, customer_id) WHERE state = 'active';
CREATE INDEX flows_due ON flows (due_at) WHERE state = 'active';
CREATE INDEX flows_by_store ON flows (store_id, started_at);

-- Delivery: messages of a flow step are never sent twice; failed
-- attempts are retried with backoff.
ALTER TABLE messages ADD COLUMN flow_id TEXT;
ALTER TABLE messages ADD COLUMN step BIGINT;
ALTER TABLE messages ADD COLUMN next_attempt_at BIGINT;
ALTER TABLE messages ADD COLUMN last_error TEXT;
ALTER TABLE messages ADD COLUMN delivered_at BIGINT;
CREATE UNIQUE INDEX messages_once_per_step ON messages (flow_id, step, channel, template) WHERE flow_id IS NOT NULL;
CREATE INDEX messages_queued ON messages (next_attempt_at) WHERE state = 'queued';

-- How a store's messages leave: {"kind":"log"} (default) or
-- {"kind":"webhook","url":"…","secret":"…"}.
ALTER TABLE stores ADD COLUMN delivery TEXT;
