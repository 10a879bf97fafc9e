-- Safe rollouts: fuel per call, retries and the dead-letter list, failure
-- policies, data grants, shadow and canary versions, yanked versions and
-- the history of every install change.

-- Fuel the call used (NULL where no call ran), and what a failed call
-- wrote last (JSON array of log lines).
ALTER TABLE outcomes ADD COLUMN fuel BIGINT;
ALTER TABLE outcomes ADD COLUMN logs TEXT;

-- A pending event whose call failed in a way that may pass waits until
-- `retry_at`; the customer's later events wait behind it.
ALTER TABLE events ADD COLUMN retry_at BIGINT;
CREATE INDEX events_retrying ON events (store_id, customer_id, retry_at) WHERE retry_at IS NOT NULL;

-- `skip`: a customer's later events go on past a failure; `hold`: they
-- wait (as `held` failures) until it is re-driven.
ALTER TABLE installs ADD COLUMN failure_policy TEXT NOT NULL DEFAULT 'skip';
-- The data scopes the merchant granted (JSON array, e.g. ["pii"]).
ALTER TABLE installs ADD COLUMN grants TEXT NOT NULL DEFAULT '[]';
-- A version run beside the live one with nothing applied (JSON), and one
-- that takes a share of the customers (JSON).
ALTER TABLE installs ADD COLUMN shadow TEXT;
ALTER TABLE installs ADD COLUMN canary TEXT;

ALTER TABLE plugin_versions ADD COLUMN scopes TEXT NOT NULL DEFAULT '[]';
ALTER TABLE plugin_versions ADD COLUMN yanked_at BIGINT;
ALTER TABLE plugin_versions ADD COLUMN yank_reason TEXT;

-- One row per (install, event) whose call failed: being retried, dead
-- (kept for re-drive), held behind a dead one, being re-driven, or
-- resolved by a later attempt.
CREATE TABLE failures (
    id              INTEGER PRIMARY KEY AUTOINCREMENT,
    store_id        TEXT NOT NULL,
    install_id      TEXT NOT NULL,
    event_id        TEXT NOT NULL,
    event_seq       BIGINT NOT NULL,
    customer_id     TEXT NOT NULL,
    plugin          TEXT NOT NULL,
    code            TEXT NOT NULL,
    message         TEXT NOT NULL,
    attempts        BIGINT NOT NULL,
    state           TEXT NOT NULL,
    first_failed_at BIGINT NOT NULL,
    last_failed_at  BIGINT NOT NULL,
    next_retry_at   BIGINT,
    resolved_at     BIGINT,
    UNIQUE (install_id, event_id)
);
CREATE INDEX failures_by_install ON failures (install_id, state, id);
CREATE INDEX failures_by_event ON failures (store_id, event_id);
CREATE INDEX failures_by_store_state ON failures (store_id, state);

-- Every change of an install: who, when, and the install before and after.
CREATE TABLE install_history (
    id              INTEGER PRIMARY KEY AUTOINCREMENT,
    store_id        TEXT NOT NULL,
    install_id      TEXT NOT NULL,
    at              BIGINT NOT NULL,
    actor           TEXT NOT NULL,
    action          TEXT NOT NULL,
    reason          TEXT,
    before          TEXT,
    after           TEXT NOT NULL
);
CREATE INDEX install_history_by_install ON install_history (install_id, id);

-- Counters of a shadow or canary run (and of the live version beside a
-- canary), since the run began.
CREATE TABLE rollout_stats (
    install_id      TEXT NOT NULL,
    arm             TEXT NOT NULL,
    version         TEXT NOT NULL,
    calls           BIGINT NOT NULL DEFAULT 0,
    failures        BIGINT NOT NULL DEFAULT 0,
    agreements      BIGINT NOT NULL DEFAULT 0,
    disagreements   BIGINT NOT NULL DEFAULT 0,
    elapsed_us      BIGINT NOT NULL DEFAULT 0,
    fuel            BIGINT NOT NULL DEFAULT 0,
    PRIMARY KEY (install_id, arm)
);

-- Examples of where a shadow decided differently from the live version.
CREATE TABLE shadow_diffs (
    id              INTEGER PRIMARY KEY AUTOINCREMENT,
    install_id      TEXT NOT NULL,
    event_id        TEXT NOT NULL,
    customer_id     TEXT NOT NULL,
    live            TEXT NOT NULL,
    shadow          TEXT NOT NULL,
    at              BIGINT NOT NULL
);
CREATE INDEX shadow_diffs_by_install ON shadow_diffs (install_id, id);

-- The newest lines each install's plugin wrote (log interface, stdout,
-- stderr), for its developer: a ring of a bounded size per install.
CREATE TABLE plugin_logs (
    id              INTEGER PRIMARY KEY AUTOINCREMENT,
    install_id      TEXT NOT NULL,
    event_id        TEXT,
    plugin          TEXT NOT NULL,
    at              BIGINT NOT NULL,
    level           TEXT NOT NULL,
    stream          TEXT NOT NULL,
    message         TEXT NOT NULL
);
CREATE INDEX plugin_logs_by_install ON plugin_logs (install_id, id);
