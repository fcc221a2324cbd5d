-- Executor liveness: every running engine registers an instance and
-- heartbeats; a PENDING workflow names the instance that runs it, and
-- writes for it are refused once another instance owns it. Times are Unix
-- milliseconds of the database server's clock, the one clock every
-- machine sharing the database compares.
CREATE TABLE instances (
    id            text COLLATE "C" PRIMARY KEY,
    executor_id   text NOT NULL,
    app_version   text NOT NULL,
    app_name      text NOT NULL,
    host          text NOT NULL,
    pid           integer NOT NULL,
    process_start text NOT NULL,
    started_at    bigint NOT NULL,
    heartbeat_at  bigint NOT NULL,
    dead          boolean NOT NULL DEFAULT false
);

-- Rows from before instances have no owner: the first live instance
-- adopts the PENDING ones.
ALTER TABLE workflows ADD COLUMN owner text NOT NULL DEFAULT '';

-- Adoption looks up the PENDING rows of dead instances (and of none);
-- recovery no longer lists by executor.
DROP INDEX workflows_pending;
CREATE INDEX workflows_owner ON workflows (owner) WHERE status = 'PENDING';

-- An engine looks for the workflows it runs that others cancelled.
DROP INDEX workflows_cancelled;
CREATE INDEX workflows_cancelled ON workflows (owner, updated_at) WHERE status = 'CANCELLED';
