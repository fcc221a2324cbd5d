-- The durable core: workflow status rows and their recorded steps.
-- Times are Unix milliseconds.
CREATE TABLE workflows (
    id                  TEXT PRIMARY KEY,
    name                TEXT NOT NULL,
    status              TEXT NOT NULL,
    input               BLOB,
    output              BLOB,
    error               BLOB,
    executor_id         TEXT NOT NULL,
    app_version         TEXT NOT NULL,
    app_name            TEXT NOT NULL DEFAULT '',
    parent_id           TEXT NOT NULL DEFAULT '',
    queue_name          TEXT NOT NULL DEFAULT '',
    recovery_attempts   INTEGER NOT NULL DEFAULT 0,
    created_at          INTEGER NOT NULL,
    updated_at          INTEGER NOT NULL,
    completed_at        INTEGER NOT NULL DEFAULT 0
);

-- Recovery lists an executor's PENDING workflows. Partial, so the rows
-- that are not PENDING (most of them, and every enqueue) cost no index
-- write.
CREATE INDEX workflows_pending ON workflows (executor_id, app_version) WHERE status = 'PENDING';
CREATE INDEX workflows_created ON workflows (created_at);

CREATE TABLE steps (
    workflow_id  TEXT NOT NULL REFERENCES workflows (id) ON DELETE CASCADE,
    step_id      INTEGER NOT NULL,
    name         TEXT NOT NULL,
    output       BLOB,
    error        BLOB,
    child_id     TEXT NOT NULL DEFAULT '',
    started_at   INTEGER NOT NULL,
    completed_at INTEGER NOT NULL,
    PRIMARY KEY (workflow_id, step_id)
) WITHOUT ROWID;
