-- Listing by position, workflow management, forks.
--
-- Listings are in rowid order, which is insertion order: SQLite has one
-- writer at a time, so a row is committed by the time any row with a
-- larger rowid is, and a listing paged by rowid never passes a row that
-- appears later. SQLite gives a new row the largest rowid plus one, which
-- reuses the rowids of the newest rows once they are deleted, and a
-- listing paged past them would skip the rows that take them again. So
-- every insert takes a rowid past the largest ever deleted as well (see
-- nextRowid in workflow.go), which this table keeps.
CREATE TABLE rowid_floor (max_deleted INTEGER NOT NULL);
INSERT INTO rowid_floor (max_deleted) VALUES (0);
CREATE TRIGGER workflows_rowid_floor AFTER DELETE ON workflows BEGIN
    UPDATE rowid_floor SET max_deleted = OLD.rowid WHERE max_deleted < OLD.rowid;
END;

-- The filters listings use most, each in insertion order: an index keeps
-- its entries in rowid order after its own columns. A parent's children
-- are in workflows_parent, an ID prefix is a range of the primary key.
CREATE INDEX workflows_status ON workflows (status);
CREATE INDEX workflows_name ON workflows (name);
CREATE INDEX workflows_queue ON workflows (queue_name) WHERE queue_name != '';

-- Deleting a workflow deletes the messages sent to it.
CREATE INDEX messages_dest ON messages (dest_id);

-- The step that wrote a stream entry, when the workflow function wrote it
-- as a step (NULL from inside a step, which the store is not told of): a
-- fork copies the entries of the steps it copies.
ALTER TABLE streams ADD COLUMN step_id INTEGER;

-- What the planner knows of the workflows table's indexes. dboslite never
-- runs ANALYZE, and without statistics SQLite takes every index to pick
-- out about ten rows per value: the status index then looks as good as
-- the partial index of one owner's PENDING rows, and adoption would read
-- every PENDING row. These are the statistics of a table of a million
-- workflows with few statuses, queues and names and many owners (see
-- "The sqlite_stat1 table" in SQLite's documentation: they may be
-- written by hand). ANALYZE, if someone runs it, replaces them. A
-- migration that adds an index to workflows adds its line.
ANALYZE sqlite_schema;
DELETE FROM sqlite_stat1 WHERE tbl = 'workflows';
INSERT INTO sqlite_stat1 (tbl, idx, stat) VALUES
    ('workflows', NULL, '1000000'),
    ('workflows', 'sqlite_autoindex_workflows_1', '1000000 1'),
    ('workflows', 'workflows_created', '1000000 2'),
    ('workflows', 'workflows_parent', '100000 5'),
    ('workflows', 'workflows_queue_ready', '1000 200 100 2'),
    ('workflows', 'workflows_queue_running', '100 20 2'),
    ('workflows', 'workflows_queue_started', '500000 100000 2'),
    ('workflows', 'workflows_queue_dedup', '1000 200 1'),
    ('workflows', 'workflows_owner', '1000 10'),
    ('workflows', 'workflows_cancelled', '10000 100 2'),
    ('workflows', 'workflows_status', '1000000 200000'),
    ('workflows', 'workflows_name', '1000000 10000'),
    ('workflows', 'workflows_queue', '500000 100000');
