-- Clientele schema, SQLite flavour. Times are BIGINT milliseconds since the
-- Unix epoch (UTC); JSON is TEXT. Integers are BIGINT throughout so that the
-- same queries run unchanged on PostgreSQL.

CREATE TABLE stores (
    id              TEXT PRIMARY KEY,
    name            TEXT NOT NULL,
    currency        TEXT NOT NULL,
    timezone        TEXT NOT NULL,
    api_key_sha256  TEXT NOT NULL UNIQUE,
    created_at      BIGINT NOT NULL
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

CREATE TABLE events (
    seq             INTEGER PRIMARY KEY AUTOINCREMENT,
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
CREATE INDEX events_pending ON events (seq) WHERE status = 'pending';

CREATE TABLE plugin_versions (
    name            TEXT NOT NULL,
    version         TEXT NOT NULL,
    world           TEXT NOT NULL,
    description     TEXT NOT NULL,
    capabilities    TEXT NOT NULL,
    manifest        TEXT NOT NULL,
    sha256          TEXT NOT NULL,
    size_bytes      BIGINT NOT NULL,
    component       BLOB NOT NULL,
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
    updated_at      BIGINT NOT NULL
);
CREATE INDEX installs_by_store ON installs (store_id);

-- One row per (event, install): the done-mark, written in the same
-- transaction as that install's effects. Its key makes a replay a no-op.
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
    seq             INTEGER PRIMARY KEY AUTOINCREMENT,
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
    -- For earn entries: points not yet spent, deducted or expired.
    remaining       BIGINT NOT NULL DEFAULT 0
);
CREATE INDEX ledger_by_customer ON ledger_entries (store_id, customer_id, seq);
CREATE INDEX ledger_open_lots ON ledger_entries (store_id, customer_id, seq) WHERE remaining > 0;
CREATE INDEX ledger_expiring ON ledger_entries (expires_at) WHERE remaining > 0 AND expires_at IS NOT NULL;

CREATE TABLE plugin_state (
    install_id      TEXT NOT NULL,
    customer_id     TEXT NOT NULL,
    key             TEXT NOT NULL,
    value           BLOB NOT NULL,
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
    updated_at      BIGINT NOT NULL
);
CREATE INDEX messages_by_store ON messages (store_id, created_at);
