-- Retention analytics, kept at intake in the store's local calendar
-- (`grain` is `month` or `week`; a period is numbered so that the one
-- before is `period - 1`, see `domain::period`).

-- Each customer's orders per period: who was active when.
CREATE TABLE activity (
    store_id        TEXT NOT NULL,
    grain           TEXT NOT NULL,
    customer_id     TEXT NOT NULL,
    period          BIGINT NOT NULL,
    orders          BIGINT NOT NULL,
    revenue_cents   BIGINT NOT NULL,
    PRIMARY KEY (store_id, grain, customer_id, period)
);

-- Per period: the customers active, new (their first order), retained
-- (active in the period before too), and the revenue with the returning
-- customers' part of it.
CREATE TABLE activity_periods (
    store_id                TEXT NOT NULL,
    grain                   TEXT NOT NULL,
    period                  BIGINT NOT NULL,
    active                  BIGINT NOT NULL DEFAULT 0,
    new_customers           BIGINT NOT NULL DEFAULT 0,
    retained                BIGINT NOT NULL DEFAULT 0,
    revenue_cents           BIGINT NOT NULL DEFAULT 0,
    returning_revenue_cents BIGINT NOT NULL DEFAULT 0,
    PRIMARY KEY (store_id, grain, period)
);

-- Per cohort (the period of a customer's first order) and period: how
-- many of the cohort's customers were active in it.
CREATE TABLE activity_cohorts (
    store_id        TEXT NOT NULL,
    grain           TEXT NOT NULL,
    cohort          BIGINT NOT NULL,
    period          BIGINT NOT NULL,
    active          BIGINT NOT NULL DEFAULT 0,
    PRIMARY KEY (store_id, grain, cohort, period)
);

-- Stores whose orders came before the activity tables did: the host
-- builds their activity once, then removes the mark.
CREATE TABLE activity_backfill (
    store_id        TEXT PRIMARY KEY
);
INSERT INTO activity_backfill (store_id) SELECT DISTINCT store_id FROM orders;

-- Complaints, from `complaint.filed` and `complaint.resolved`. `due_at`
-- is what a service-recovery plugin set as the complaint's SLA.
CREATE TABLE complaints (
    store_id        TEXT NOT NULL,
    complaint_id    TEXT NOT NULL,
    customer_id     TEXT NOT NULL,
    order_id        TEXT,
    category        TEXT NOT NULL,
    severity        BIGINT NOT NULL,
    filed_at        BIGINT NOT NULL,
    filed_event     TEXT NOT NULL,
    filed_month     BIGINT NOT NULL,
    filed_week      BIGINT NOT NULL,
    due_at          BIGINT,
    resolved_at     BIGINT,
    resolution      TEXT,
    satisfied       BIGINT,
    resolved_event  TEXT,
    PRIMARY KEY (store_id, complaint_id)
);
CREATE INDEX complaints_by_customer ON complaints (store_id, customer_id, filed_at);
CREATE INDEX complaints_by_filing ON complaints (store_id, filed_at);

-- The order a ledger entry's event named (`order.placed`, `order.refunded`):
-- what an install earned for an order, less what it took back on its
-- refunds, is read by it (contract 0.5.0 `earnings`).
ALTER TABLE ledger_entries ADD COLUMN order_id TEXT;
CREATE INDEX ledger_by_order ON ledger_entries (store_id, install_id, order_id) WHERE order_id IS NOT NULL;

-- A responder's timers (contract 0.5.0): one per install, customer and
-- key, run once by the worker that holds the store, then removed.
CREATE TABLE reaction_timers (
    store_id        TEXT NOT NULL,
    install_id      TEXT NOT NULL,
    customer_id     TEXT NOT NULL,
    key             TEXT NOT NULL,
    due_at          BIGINT NOT NULL,
    payload         TEXT NOT NULL,
    set_at          BIGINT NOT NULL,
    failures        BIGINT NOT NULL DEFAULT 0,
    last_error      TEXT,
    PRIMARY KEY (install_id, customer_id, key)
);
CREATE INDEX reaction_timers_due ON reaction_timers (store_id, due_at);

-- A point-rules install that runs as a campaign on top of the base rules:
-- its window and budgets, as JSON (NULL: the store's base rules).
ALTER TABLE installs ADD COLUMN campaign TEXT;
