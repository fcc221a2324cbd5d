-- Listing by position, workflow management, forks.
--
-- Listings are in the order of insert_xid, the ID of the transaction that
-- inserted the row (an update never changes it), then seq, which orders
-- the rows one transaction inserts. Not seq alone: an identity value is
-- taken when the row is inserted, before its transaction commits, so a
-- row could appear behind a reader that has paged past it. See list.go
-- for why a listing that stops short of the oldest transaction still
-- open never misses a row. Rows inserted before this migration take its
-- transaction's ID and keep their order by seq.
ALTER TABLE workflows ADD COLUMN insert_xid bigint NOT NULL DEFAULT (pg_current_xact_id()::text::bigint);

-- The filters listings use most, each in that order. The ID prefix is a
-- range of the primary key.
CREATE INDEX workflows_position ON workflows (insert_xid, seq);
CREATE INDEX workflows_status ON workflows (status, insert_xid, seq);
CREATE INDEX workflows_name ON workflows (name, insert_xid, seq);
CREATE INDEX workflows_queue ON workflows (queue_name, insert_xid, seq) WHERE queue_name <> '';
DROP INDEX workflows_parent;
CREATE INDEX workflows_parent ON workflows (parent_id, insert_xid, seq) WHERE parent_id <> '';

-- Deleting a workflow deletes the messages sent to it.
CREATE INDEX messages_dest ON messages (dest_id);

-- The step that wrote a stream entry, when the workflow function wrote it
-- as a step (NULL from inside a step, which the store is not told of): a
-- fork copies the entries of the steps it copies.
ALTER TABLE streams ADD COLUMN step_id integer;
