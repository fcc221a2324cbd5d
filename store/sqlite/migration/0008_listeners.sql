-- The stores that follow the change log (0005): one row each, refreshed
-- while they have eager watches. A commit writes the log only while
-- another store's row is fresh, so a program alone with its file pays
-- nothing for wake-ups across processes.
CREATE TABLE listeners (
    origin  TEXT PRIMARY KEY, -- the store's name in the change log
    seen_at INTEGER NOT NULL  -- Unix milliseconds of its last refresh
);
