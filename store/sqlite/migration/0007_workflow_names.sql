-- The names of the workflows engines registered, kept after the engines
-- are gone, so that a client enqueueing by name can tell a typo from a
-- workflow whose workers are not running right now.
CREATE TABLE workflow_names (
    name TEXT PRIMARY KEY
);
