-- Clientele schema, PostgreSQL flavour: the same tables, columns and
-- indexes as migrations/sqlite (0001 to 0005 together), so that every
-- query in host/src/db runs unchanged on both engines.
--
-- Times are BIGINT milliseconds since the Unix epoch (UTC), not
-- TIMESTAMPTZ: the values, comparisons and arithmetic (`due_at <= $1`,
-- `now + ttl`) are then the same integers on both engines and through the
-- `Any` driver, which has no timestamp type. JSON is TEXT, not JSONB: no
-- query looks inside a JSON column (they are written and read whole), so
-- JSONB would only add a parse on every write.

CREATE TABLE stores (
    id              TEXT PRIMARY KEY,
    name            TEXT NOT NULL,
    currency        TEXT NOT NULL,
    timezone        TEXT NOT NULL,
    api_key_sha256  TEXT NOT NULL UNIQUE,
    created_at      BIGINT NOT NULL,
    delivery        TEXT
);

CREATE TABLE customers (
    store_id        TEXT NOT NULL REFERENCES stores(id),
    id              TEXT NOT NULL,
    email           TEXT,
    phone           TEXT,
    name            TEXT,
    birthday        TEXT,
    tags            TEXT NOT NULL DEFAULT '[]',
    attributes      TEXT NOT NULL DEFAULT '{}',
    tier            TEXT,
    points_balance  BIGINT NOT NULL DEFAULT 0,
    orders          BIGINT NOT NULL DEFAULT 0,
    repeat_days     BIGINT NOT NULL DEFAULT 0,
    net_spend_cents BIGINT NOT NULL DEFAULT 0,
    first_order_at  BIGINT,
    last_order_at   BIGINT,
    created_at      BIGINT NOT NULL,
    updated_at      BIGINT NOT NULL,
    PRIMARY KEY (store_id, id)
);

CREATE TABLE orders (
    store_id        TEXT NOT NULL,
    order_id        TEXT NOT NULL,
    customer_id     TEXT NOT NULL,
    total_cents     BIGINT NOT NULL,
    currency        TEXT NOT NULL,
    placed_at       BIGINT NOT NULL,
    placed_day      BIGINT NOT NULL,
    refunded_cents  BIGINT NOT NULL DEFAULT 0,
    PRIMARY KEY (store_id, order_id)
);
CREATE INDEX orders_by_customer ON orders (store_id, customer_id, placed_at);

CREATE TABLE refunds (
    store_id        TEXT NOT NULL,
    event_id        TEXT NOT NULL,
    order_id        TEXT NOT NULL,
    customer_id     TEXT NOT NULL,
    refund_cents    BIGINT NOT NULL,
    occurred_at     BIGINT,
    PRIMARY KEY (store_id, event_id)
);

CREATE TABLE events (
    seq             BIGINT GENERATED ALWAYS AS IDENTITY PRIMARY KEY,
    store_id        TEXT NOT NULL,
    id              TEXT NOT NULL,
    type            TEXT NOT NULL,
    customer_id     TEXT NOT NULL,
    occurred_at     BIGINT NOT NULL,
    data            TEXT NOT NULL,
    received_at     BIGINT NOT NULL,
    status          TEXT NOT NULL DEFAULT 'pending',
    processed_at    BIGINT,
    UNIQUE (store_id, id)
);
-- The dispatcher's claim: the oldest pending events of one store. (No
-- seq-only partial index beside it, as SQLite has: PostgreSQL's planner
-- then prefers scanning that one in seq order and filtering by store.)
-- Also serves the count of pending events and the stores that have some.
CREATE INDEX events_pending_by_store ON events (store_id, seq) WHERE status = 'pending';

CREATE TABLE plugin_versions (
    name            TEXT NOT NULL,
    version         TEXT NOT NULL,
    world           TEXT NOT NULL,
    description     TEXT NOT NULL,
    capabilities    TEXT NOT NULL,
    manifest        TEXT NOT NULL,
    sha256          TEXT NOT NULL,
    size_bytes      BIGINT NOT NULL,
    component       BYTEA NOT NULL,
    published_at    BIGINT NOT NULL,
    PRIMARY KEY (name, version)
);

CREATE TABLE installs (
    id              TEXT PRIMARY KEY,
    store_id        TEXT NOT NULL REFERENCES stores(id),
    plugin          TEXT NOT NULL,
    version         TEXT NOT NULL,
    world           TEXT NOT NULL,
    config          TEXT NOT NULL,
    enabled         BIGINT NOT NULL,
    disabled_reason TEXT,
    invocations     BIGINT NOT NULL DEFAULT 0,
    failures        BIGINT NOT NULL DEFAULT 0,
    consecutive_failures BIGINT NOT NULL DEFAULT 0,
    created_at      BIGINT NOT NULL,
    updated_at      BIGINT NOT NULL,
    tripped_at      BIGINT
);
CREATE INDEX installs_by_store ON installs (store_id);

CREATE TABLE outcomes (
    store_id        TEXT NOT NULL,
    event_id        TEXT NOT NULL,
    install_id      TEXT NOT NULL,
    plugin          TEXT NOT NULL,
    status          TEXT NOT NULL,
    error_code      TEXT,
    error           TEXT,
    effects         TEXT NOT NULL,
    elapsed_us      BIGINT NOT NULL,
    created_at      BIGINT NOT NULL,
    PRIMARY KEY (store_id, event_id, install_id)
);

CREATE TABLE ledger_entries (
    seq             BIGINT GENERATED ALWAYS AS IDENTITY PRIMARY KEY,
    id              TEXT NOT NULL UNIQUE,
    store_id        TEXT NOT NULL,
    customer_id     TEXT NOT NULL,
    points          BIGINT NOT NULL,
    kind            TEXT NOT NULL,
    reason          TEXT NOT NULL,
    event_id        TEXT,
    install_id      TEXT,
    created_at      BIGINT NOT NULL,
    expires_at      BIGINT,
    remaining       BIGINT NOT NULL DEFAULT 0
);
CREATE INDEX ledger_by_customer ON ledger_entries (store_id, customer_id, seq);
CREATE INDEX ledger_open_lots ON ledger_entries (store_id, customer_id, seq) WHERE remaining > 0;
CREATE INDEX ledger_expiring ON ledger_entries (expires_at) WHERE remaining > 0 AND expires_at IS NOT NULL;

CREATE TABLE plugin_state (
    install_id      TEXT NOT NULL,
    customer_id     TEXT NOT NULL,
    key             TEXT NOT NULL,
    value           BYTEA NOT NULL,
    PRIMARY KEY (install_id, customer_id, key)
);

CREATE TABLE messages (
    id              TEXT PRIMARY KEY,
    store_id        TEXT NOT NULL,
    customer_id     TEXT NOT NULL,
    install_id      TEXT NOT NULL,
    event_id        TEXT,
    channel         TEXT NOT NULL,
    template        TEXT NOT NULL,
    vars            TEXT NOT NULL,
    state           TEXT NOT NULL,
    attempts        BIGINT NOT NULL DEFAULT 0,
    created_at      BIGINT NOT NULL,
    updated_at      BIGINT NOT NULL,
    flow_id         TEXT,
    step            BIGINT,
    next_attempt_at BIGINT,
    last_error      TEXT,
    delivered_at    BIGINT
);
CREATE INDEX messages_by_store ON messages (store_id, created_at);
CREATE UNIQUE INDEX messages_once_per_step ON messages (flow_id, step, channel, template) WHERE flow_id IS NOT NULL;
CREATE INDEX messages_queued ON messages (next_attempt_at) WHERE state = 'queued';

CREATE TABLE models (
    install_id      TEXT PRIMARY KEY,
    store_id        TEXT NOT NULL,
    plugin          TEXT NOT NULL,
    as_of           BIGINT NOT NULL,
    model           BYTEA NOT NULL,
    summary         TEXT NOT NULL,
    customers       BIGINT NOT NULL,
    elapsed_ms      BIGINT NOT NULL,
    fitted_at       BIGINT NOT NULL,
    last_error      TEXT,
    last_attempt_at BIGINT NOT NULL
);

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
CREATE INDEX flows_due_by_store ON flows (store_id, due_at) WHERE state = 'active';

CREATE TABLE open_batches (
    store_id        TEXT PRIMARY KEY,
    to_seq          BIGINT NOT NULL
);

CREATE TABLE call_attempts (
    store_id        TEXT NOT NULL,
    event_id        TEXT NOT NULL,
    install_id      TEXT NOT NULL,
    started         BIGINT NOT NULL DEFAULT 0,
    finished        BIGINT NOT NULL DEFAULT 0,
    updated_at      BIGINT NOT NULL,
    PRIMARY KEY (store_id, event_id, install_id)
);

CREATE TABLE nodes (
    id              TEXT PRIMARY KEY,
    started_at      BIGINT NOT NULL,
    heartbeat_at    BIGINT NOT NULL,
    version         TEXT NOT NULL,
    stopped_at      BIGINT
);

CREATE TABLE leases (
    name            TEXT PRIMARY KEY,
    node_id         TEXT NOT NULL,
    acquired_at     BIGINT NOT NULL,
    expires_at      BIGINT NOT NULL
);
CREATE INDEX leases_by_node ON leases (node_id);
