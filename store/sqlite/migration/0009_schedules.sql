-- Cron schedules of workflows, shared by every process using the
-- database. Times are Unix milliseconds; done_through is 0 until the
-- first tick.
CREATE TABLE schedules (
    name TEXT PRIMARY KEY,
    workflow_name TEXT NOT NULL,
    spec TEXT NOT NULL,
    zone TEXT NOT NULL,
    paused INTEGER NOT NULL DEFAULT 0,
    done_through INTEGER NOT NULL DEFAULT 0,
    created_at INTEGER NOT NULL,
    updated_at INTEGER NOT NULL
);
