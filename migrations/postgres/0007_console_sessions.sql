-- Console sessions, so that signing out (or rotating the store's key)
-- ends a session on every node at once: a session cookie is honoured only
-- while its row is here. `id` is the sha256 of the cookie's session id.
CREATE TABLE console_sessions (
    id              TEXT PRIMARY KEY,
    store_id        TEXT,
    expires_at      BIGINT NOT NULL
);
CREATE INDEX console_sessions_by_store ON console_sessions (store_id);
