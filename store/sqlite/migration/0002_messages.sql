-- Messages, events, streams, deadlines.
ALTER TABLE workflows ADD COLUMN deadline_at INTEGER NOT NULL DEFAULT 0;
ALTER TABLE workflows ADD COLUMN timeout_ms INTEGER NOT NULL DEFAULT 0;
CREATE INDEX workflows_parent ON workflows (parent_id) WHERE parent_id != '';
-- An engine looks for its workflows cancelled by other processes.
CREATE INDEX workflows_cancelled ON workflows (executor_id, updated_at) WHERE status = 'CANCELLED';

CREATE TABLE messages (
    seq             INTEGER PRIMARY KEY AUTOINCREMENT,
    dest_id         TEXT NOT NULL REFERENCES workflows (id) ON DELETE CASCADE,
    topic           TEXT NOT NULL,
    payload         BLOB,
    idempotency_key TEXT,
    consumed        INTEGER NOT NULL DEFAULT 0,
    created_at      INTEGER NOT NULL
);
CREATE UNIQUE INDEX messages_idempotency ON messages (dest_id, idempotency_key) WHERE idempotency_key IS NOT NULL;
CREATE INDEX messages_unconsumed ON messages (dest_id, topic, seq) WHERE consumed = 0;

CREATE TABLE events (
    workflow_id TEXT NOT NULL REFERENCES workflows (id) ON DELETE CASCADE,
    key         TEXT NOT NULL,
    value       BLOB,
    updated_at  INTEGER NOT NULL,
    PRIMARY KEY (workflow_id, key)
) WITHOUT ROWID;

CREATE TABLE event_history (
    workflow_id TEXT NOT NULL REFERENCES workflows (id) ON DELETE CASCADE,
    step_id     INTEGER NOT NULL,
    key         TEXT NOT NULL,
    value       BLOB,
    created_at  INTEGER NOT NULL,
    PRIMARY KEY (workflow_id, step_id)
) WITHOUT ROWID;

CREATE TABLE streams (
    workflow_id TEXT NOT NULL REFERENCES workflows (id) ON DELETE CASCADE,
    key         TEXT NOT NULL,
    pos         INTEGER NOT NULL,
    value       BLOB,
    closed      INTEGER NOT NULL DEFAULT 0, -- 1 on the closing row, which has no value
    created_at  INTEGER NOT NULL,
    PRIMARY KEY (workflow_id, key, pos)
) WITHOUT ROWID;
