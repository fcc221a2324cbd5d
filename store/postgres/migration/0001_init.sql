-- The durable core: workflow status rows and their recorded steps.
-- Times are Unix milliseconds (bigint), 0 for none, as on SQLite: the
-- rows of both backends read the same, and the suite's times round-trip
-- exactly. IDs are compared byte by byte (COLLATE "C"), as SQLite does.
CREATE TABLE workflows (
    id                text COLLATE "C" PRIMARY KEY,
    name              text NOT NULL,
    status            text NOT NULL,
    input             bytea,
    output            bytea,
    error             bytea,
    executor_id       text NOT NULL,
    app_version       text NOT NULL,
    app_name          text NOT NULL DEFAULT '',
    parent_id         text NOT NULL DEFAULT '',
    queue_name        text NOT NULL DEFAULT '',
    recovery_attempts integer NOT NULL DEFAULT 0,
    created_at        bigint NOT NULL,
    updated_at        bigint NOT NULL,
    completed_at      bigint NOT NULL DEFAULT 0
);

-- Recovery lists an executor's PENDING workflows. Partial, so the rows
-- that are not PENDING (most of them, and every enqueue) cost no index
-- write.
CREATE INDEX workflows_pending ON workflows (executor_id, app_version) WHERE status = 'PENDING';
CREATE INDEX workflows_created ON workflows (created_at);

CREATE TABLE steps (
    workflow_id  text COLLATE "C" NOT NULL REFERENCES workflows (id) ON DELETE CASCADE,
    step_id      integer NOT NULL,
    name         text NOT NULL,
    output       bytea,
    error        bytea,
    child_id     text NOT NULL DEFAULT '',
    started_at   bigint NOT NULL,
    completed_at bigint NOT NULL,
    PRIMARY KEY (workflow_id, step_id)
);
