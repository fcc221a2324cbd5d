-- Queues: order, deduplication, partitions, delayed start and claim time.
-- (queue_name, deadline_at and timeout_ms exist already.)
ALTER TABLE workflows ADD COLUMN priority integer NOT NULL DEFAULT 0;
ALTER TABLE workflows ADD COLUMN dedup_id text NOT NULL DEFAULT '';
ALTER TABLE workflows ADD COLUMN partition_key text NOT NULL DEFAULT '';
ALTER TABLE workflows ADD COLUMN not_before bigint NOT NULL DEFAULT 0;
ALTER TABLE workflows ADD COLUMN started_at bigint NOT NULL DEFAULT 0;
-- Insertion order, which breaks ties of created_at as SQLite's rowid does,
-- so equal priorities are FIFO.
ALTER TABLE workflows ADD COLUMN seq bigint GENERATED ALWAYS AS IDENTITY;

-- The claim query: a queue's waiting rows in claim order.
CREATE INDEX workflows_queue_ready ON workflows (queue_name, priority, created_at, seq) WHERE status = 'ENQUEUED';
-- Global and partition concurrency: a queue's running rows.
CREATE INDEX workflows_queue_running ON workflows (queue_name, partition_key) WHERE status = 'PENDING';
-- Rate limits: a queue's recent claims.
CREATE INDEX workflows_queue_started ON workflows (queue_name, started_at) WHERE started_at <> 0;
-- One active workflow per (queue, deduplication ID): finishing or
-- cancelling a workflow releases its ID. Enqueue inserts with ON CONFLICT
-- DO NOTHING, so this index, not a read before the insert, decides.
CREATE UNIQUE INDEX workflows_queue_dedup ON workflows (queue_name, dedup_id)
    WHERE dedup_id <> '' AND status IN ('ENQUEUED', 'PENDING');
