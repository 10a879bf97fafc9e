-- What each customer's plugin state of an install holds in all (bytes of
-- keys and values), for the 256 KiB cap: a call reads the keys it asks
-- for, not the whole state, and learns its size here. Kept by a trigger,
-- so every writer of plugin_state keeps it right.
CREATE TABLE plugin_state_usage (
    install_id      TEXT NOT NULL,
    customer_id     TEXT NOT NULL,
    bytes           BIGINT NOT NULL,
    PRIMARY KEY (install_id, customer_id)
);

INSERT INTO plugin_state_usage (install_id, customer_id, bytes)
    SELECT install_id, customer_id, SUM(octet_length(key) + octet_length(value))
    FROM plugin_state GROUP BY install_id, customer_id;

CREATE FUNCTION plugin_state_usage_track() RETURNS trigger LANGUAGE plpgsql AS $$
BEGIN
    IF TG_OP IN ('UPDATE', 'DELETE') THEN
        UPDATE plugin_state_usage SET bytes = bytes - octet_length(OLD.key) - octet_length(OLD.value)
            WHERE install_id = OLD.install_id AND customer_id = OLD.customer_id;
    END IF;
    IF TG_OP = 'DELETE' THEN
        -- A customer whose state is gone leaves no row behind.
        DELETE FROM plugin_state_usage
            WHERE install_id = OLD.install_id AND customer_id = OLD.customer_id AND bytes <= 0;
    END IF;
    IF TG_OP IN ('INSERT', 'UPDATE') THEN
        INSERT INTO plugin_state_usage (install_id, customer_id, bytes)
            VALUES (NEW.install_id, NEW.customer_id, octet_length(NEW.key) + octet_length(NEW.value))
            ON CONFLICT (install_id, customer_id)
            DO UPDATE SET bytes = plugin_state_usage.bytes + excluded.bytes;
    END IF;
    RETURN NULL;
END $$;

CREATE TRIGGER plugin_state_usage AFTER INSERT OR UPDATE OR DELETE ON plugin_state
    FOR EACH ROW EXECUTE FUNCTION plugin_state_usage_track();
