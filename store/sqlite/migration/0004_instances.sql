-- Executor liveness: every running engine registers an instance and
-- heartbeats; a PENDING workflow names the instance that runs it, and
-- writes for it are refused once another instance owns it. Times are Unix
-- milliseconds of the database's clock.
CREATE TABLE instances (
    id            TEXT PRIMARY KEY,
    executor_id   TEXT NOT NULL,
    app_version   TEXT NOT NULL,
    app_name      TEXT NOT NULL,
    host          TEXT NOT NULL,
    pid           INTEGER NOT NULL,
    process_start TEXT NOT NULL,
    started_at    INTEGER NOT NULL,
    heartbeat_at  INTEGER NOT NULL,
    dead          INTEGER NOT NULL DEFAULT 0
);

-- Rows from before instances have no owner: the first live instance
-- adopts the PENDING ones.
ALTER TABLE workflows ADD COLUMN owner TEXT NOT NULL DEFAULT '';

-- Adoption looks up the PENDING rows of dead instances (and of none);
-- recovery no longer lists by executor.
DROP INDEX workflows_pending;
CREATE INDEX workflows_owner ON workflows (owner) WHERE status = 'PENDING';

-- An engine looks for the workflows it runs that others cancelled.
DROP INDEX workflows_cancelled;
CREATE INDEX workflows_cancelled ON workflows (owner, updated_at) WHERE status = 'CANCELLED';
