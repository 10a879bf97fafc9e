-- What each customer's plugin state of an install holds in all (bytes of
-- keys and values), for the 256 KiB cap: a call reads the keys it asks
-- for, not the whole state, and learns its size here. Kept by triggers,
-- so every writer of plugin_state keeps it right.
CREATE TABLE plugin_state_usage (
    install_id      TEXT NOT NULL,
    customer_id     TEXT NOT NULL,
    bytes           INTEGER NOT NULL,
    PRIMARY KEY (install_id, customer_id)
) WITHOUT ROWID;

INSERT INTO plugin_state_usage (install_id, customer_id, bytes)
    SELECT install_id, customer_id, SUM(length(CAST(key AS BLOB)) + length(value))
    FROM plugin_state GROUP BY install_id, customer_id;

CREATE TRIGGER plugin_state_usage_insert AFTER INSERT ON plugin_state BEGIN
    INSERT INTO plugin_state_usage (install_id, customer_id, bytes)
        VALUES (new.install_id, new.customer_id, length(CAST(new.key AS BLOB)) + length(new.value))
        ON CONFLICT (install_id, customer_id) DO UPDATE SET bytes = bytes + excluded.bytes;
END;

CREATE TRIGGER plugin_state_usage_update AFTER UPDATE ON plugin_state BEGIN
    UPDATE plugin_state_usage SET bytes = bytes - length(CAST(old.key AS BLOB)) - length(old.value)
        WHERE install_id = old.install_id AND customer_id = old.customer_id;
    INSERT INTO plugin_state_usage (install_id, customer_id, bytes)
        VALUES (new.install_id, new.customer_id, length(CAST(new.key AS BLOB)) + length(new.value))
        ON CONFLICT (install_id, customer_id) DO UPDATE SET bytes = bytes + excluded.bytes;
END;

-- A customer whose state is gone leaves no row behind.
CREATE TRIGGER plugin_state_usage_delete AFTER DELETE ON plugin_state BEGIN
    UPDATE plugin_state_usage SET bytes = bytes - length(CAST(old.key AS BLOB)) - length(old.value)
        WHERE install_id = old.install_id AND customer_id = old.customer_id;
    DELETE FROM plugin_state_usage
        WHERE install_id = old.install_id AND customer_id = old.customer_id AND bytes <= 0;
END;
