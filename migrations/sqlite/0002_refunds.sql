-- Refunds as host facts, one per event: recording a refund is idempotent,
-- so a batch whose facts were committed but whose effects were not can be
-- replayed without lowering the customer's net spend twice.
CREATE TABLE refunds (
    store_id        TEXT NOT NULL,
    event_id        TEXT NOT NULL,
    order_id        TEXT NOT NULL,
    customer_id     TEXT NOT NULL,
    refund_cents    BIGINT NOT NULL,
    PRIMARY KEY (store_id, event_id)
);
