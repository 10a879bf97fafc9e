-- Nodes and leases. Work is claimed, not assigned: a node holds a lease
-- on a store (its events, flow steps and the update after a fit) or on a
-- cluster-wide job (expiry, delivery, the fit schedule) until it releases
-- it or stops renewing it; a lease past `expires_at` may be taken over.
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
