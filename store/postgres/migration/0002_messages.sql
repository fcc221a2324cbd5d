-- Messages, events, streams, deadlines.
ALTER TABLE workflows ADD COLUMN deadline_at bigint NOT NULL DEFAULT 0;
ALTER TABLE workflows ADD COLUMN timeout_ms bigint NOT NULL DEFAULT 0;
CREATE INDEX workflows_parent ON workflows (parent_id) WHERE parent_id <> '';
-- An engine looks for its workflows cancelled by other processes.
CREATE INDEX workflows_cancelled ON workflows (executor_id, updated_at) WHERE status = 'CANCELLED';

-- seq orders a destination's messages; an identity is never reused.
CREATE TABLE messages (
    seq             bigint GENERATED ALWAYS AS IDENTITY PRIMARY KEY,
    dest_id         text COLLATE "C" NOT NULL REFERENCES workflows (id) ON DELETE CASCADE,
    topic           text NOT NULL,
    payload         bytea,
    idempotency_key text,
    consumed        boolean NOT NULL DEFAULT false,
    created_at      bigint NOT NULL
);
CREATE UNIQUE INDEX messages_idempotency ON messages (dest_id, idempotency_key) WHERE idempotency_key IS NOT NULL;
CREATE INDEX messages_unconsumed ON messages (dest_id, topic, seq) WHERE NOT consumed;

CREATE TABLE events (
    workflow_id text COLLATE "C" NOT NULL REFERENCES workflows (id) ON DELETE CASCADE,
    key         text NOT NULL,
    value       bytea,
    updated_at  bigint NOT NULL,
    PRIMARY KEY (workflow_id, key)
);

CREATE TABLE event_history (
    workflow_id text COLLATE "C" NOT NULL REFERENCES workflows (id) ON DELETE CASCADE,
    step_id     integer NOT NULL,
    key         text NOT NULL,
    value       bytea,
    created_at  bigint NOT NULL,
    PRIMARY KEY (workflow_id, step_id)
);

-- A stream's offsets are its primary key: two writers that pick the same
-- next offset cannot both insert it.
CREATE TABLE streams (
    workflow_id text COLLATE "C" NOT NULL REFERENCES workflows (id) ON DELETE CASCADE,
    key         text NOT NULL,
    pos         integer NOT NULL,
    value       bytea,
    closed      boolean NOT NULL DEFAULT false, -- true on the closing row, which has no value
    created_at  bigint NOT NULL,
    PRIMARY KEY (workflow_id, key, pos)
);
