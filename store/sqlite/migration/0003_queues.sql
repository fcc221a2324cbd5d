-- Queues: order, deduplication, partitions, delayed start and claim time.
-- (queue_name, deadline_at and timeout_ms exist already.)
ALTER TABLE workflows ADD COLUMN priority INTEGER NOT NULL DEFAULT 0;
ALTER TABLE workflows ADD COLUMN dedup_id TEXT NOT NULL DEFAULT '';
ALTER TABLE workflows ADD COLUMN partition_key TEXT NOT NULL DEFAULT '';
ALTER TABLE workflows ADD COLUMN not_before INTEGER NOT NULL DEFAULT 0;
ALTER TABLE workflows ADD COLUMN started_at INTEGER NOT NULL DEFAULT 0;

-- The claim query: a queue's waiting rows in claim order (rowid breaks
-- ties of created_at, so equal priorities are FIFO).
CREATE INDEX workflows_queue_ready ON workflows (queue_name, priority, created_at) WHERE status = 'ENQUEUED';
-- Global and partition concurrency: a queue's running rows.
CREATE INDEX workflows_queue_running ON workflows (queue_name, partition_key) WHERE status = 'PENDING';
-- Rate limits: a queue's recent claims.
CREATE INDEX workflows_queue_started ON workflows (queue_name, started_at) WHERE started_at != 0;
-- One active workflow per (queue, deduplication ID): finishing or
-- cancelling a workflow releases its ID.
CREATE UNIQUE INDEX workflows_queue_dedup ON workflows (queue_name, dedup_id)
    WHERE dedup_id != '' AND status IN ('ENQUEUED', 'PENDING');
