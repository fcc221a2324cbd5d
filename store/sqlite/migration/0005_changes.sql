-- Keyed wake-ups across processes. Each commit that wakes watchers logs
-- its keys here, in the same transaction; another process reads what is
-- new when PRAGMA data_version moves, and wakes only those keys. Entries
-- are pruned after a minute. AUTOINCREMENT: a sequence number is never
-- reused, even after the newest rows were pruned, so a reader can tell
-- what it missed.
CREATE TABLE changes (
    seq    INTEGER PRIMARY KEY AUTOINCREMENT,
    origin TEXT NOT NULL,    -- the store that wrote it, which skips its own
    keys   TEXT NOT NULL,    -- a JSON array of keys
    at     INTEGER NOT NULL  -- Unix milliseconds
);
