-- Cron schedules of workflows, shared by every process using the
-- database. Times are Unix milliseconds; done_through is 0 until the
-- first tick.
CREATE TABLE schedules (
    name text PRIMARY KEY,
    workflow_name text NOT NULL,
    spec text NOT NULL,
    zone text NOT NULL,
    paused boolean NOT NULL DEFAULT false,
    done_through bigint NOT NULL DEFAULT 0,
    created_at bigint NOT NULL,
    updated_at bigint NOT NULL
);
