package postgres

import (
	"cmp"
	"context"
	"errors"
	"fmt"
	"slices"

	"github.com/jmoiron/sqlx"

	"github.com/dboslite/dboslite/store"
)

// maxEnqueueTries bounds how often Enqueue inserts again after an insert
// that a deduplication ID refused, when the holder is gone by the time it
// is looked up.
const maxEnqueueTries = 10

var errDedupRace = errors.New("postgres: the deduplication ID was taken and released on every try")

// Enqueue implements store.Store. Whether the ID exists or the
// deduplication ID is held is decided by the insert itself (ON CONFLICT
// DO NOTHING on the primary key and on workflows_queue_dedup, a unique
// partial index), never by a read before it; only an insert that
// inserted nothing reads which of the two it met.
func (s *Store) Enqueue(ctx context.Context, p store.EnqueueParams) (store.Workflow, bool, error) {
	if p.Queue == "" {
		return store.Workflow{}, false, fmt.Errorf("enqueue workflow %s: no queue name", p.ID)
	}
	var row workflowRow
	var created bool
	err := s.retry(ctx, idempotent, func() error {
		for range maxEnqueueTries {
			var again bool
			var err error
			row, created, again, err = s.enqueue(ctx, p)
			if !again {
				return err
			}
		}
		return errDedupRace
	})
	if err != nil {
		return store.Workflow{}, false, fmt.Errorf("enqueue workflow %s: %w", p.ID, translate(err))
	}
	if created {
		s.wake(store.KeyWorkflow(p.ID), store.KeyQueue(p.Queue))
	}
	return row.toStore(), created, nil
}

// enqueue tries the insert once. It reports again if the insert was
// refused and neither the ID nor a holder of the deduplication ID is
// found: the holder ended in between, and the insert may succeed now.
func (s *Store) enqueue(ctx context.Context, p store.EnqueueParams) (row workflowRow, created, again bool, err error) {
	var rows []workflowRow
	err = s.db.SelectContext(ctx, &rows, `WITH t AS (SELECT coalesce($15::bigint, `+dbNow+`) AS t),
		ins AS (
			INSERT INTO workflows (id, name, status, input, executor_id, app_version, app_name, parent_id, queue_name,
				recovery_attempts, deadline_at, timeout_ms, priority, dedup_id, partition_key, not_before,
				created_at, updated_at, trace_context)
			SELECT $1::text, $2::text, 'ENQUEUED', $3::bytea, $4::text, $5::text, $6::text, $7::text, $8::text,
				0, $9::bigint, $10::bigint, $11::integer, $12::text, $13::text,
				CASE WHEN $14::bigint > 0 THEN t.t + $14::bigint ELSE 0 END, t.t, t.t, nullif($16::text, '')
			FROM t
			ON CONFLICT DO NOTHING
			RETURNING `+workflowColumns+`)
		SELECT `+workflowColumns+` FROM ins`,
		p.ID, p.Name, p.Input, p.ExecutorID, p.ApplicationVersion, p.ApplicationName, p.ParentID, p.Queue,
		millis(p.Deadline), p.Timeout.Milliseconds(), p.Priority, p.DeduplicationID, p.PartitionKey,
		p.Delay.Milliseconds(), nowArg(p.Now), p.TraceContext)
	if err != nil || len(rows) == 1 {
		if len(rows) == 1 {
			row, created = rows[0], true
		}
		return row, created, false, err
	}
	// The ID is looked at first, so enqueueing an existing workflow again
	// returns it whatever holds the deduplication ID now.
	var found []workflowRow
	if err := s.db.SelectContext(ctx, &found, `SELECT `+workflowColumns+` FROM workflows WHERE id = $1`, p.ID); err != nil || len(found) == 1 {
		if len(found) == 1 {
			row = found[0]
		}
		return row, false, false, err
	}
	if p.DeduplicationID == "" {
		return row, false, true, nil
	}
	var holders []string
	if err := s.db.SelectContext(ctx, &holders, `SELECT id FROM workflows
		WHERE queue_name = $1 AND dedup_id = $2 AND status IN ('ENQUEUED', 'PENDING')`, p.Queue, p.DeduplicationID); err != nil {
		return row, false, false, err
	}
	if len(holders) == 0 {
		return row, false, true, nil
	}
	return row, false, false, &store.DeduplicatedError{Queue: p.Queue, DeduplicationID: p.DeduplicationID, HolderID: holders[0]}
}

// Claim implements store.Store. Claims of one queue are serialised, across
// every process on every machine, by a transaction-level advisory lock
// whose key is a hash of the schema and the queue's name
// (pg_advisory_xact_lock, released at commit). Under it, the claim's
// statement, whose snapshot is taken after the lock was granted and so
// sees every earlier claim committed, counts the queue's PENDING rows and
// its rows started within the rate period, and takes at most what the
// limits leave, FOR UPDATE SKIP LOCKED so that it never waits for a row
// another transaction (a cancel, say) holds. A global concurrency or rate
// limit therefore holds however many workers claim at once. The times
// are the database's when p.Now is zero. Four round trips: BEGIN, the
// lock, the claim with its notifications, COMMIT. A claim whose COMMIT
// fails is not tried again (ErrOutcomeUnknown): it may have committed.
func (s *Store) Claim(ctx context.Context, p store.ClaimParams) ([]store.Workflow, error) {
	if p.Max <= 0 || len(p.Names) == 0 {
		return nil, nil
	}
	var rows []workflowRow
	err := s.retry(ctx, once, func() error {
		rows = rows[:0]
		return s.inTx(ctx, func(tx *sqlx.Tx) error {
			var live bool
			if err := tx.GetContext(ctx, &live, `SELECT `+fmt.Sprintf(liveSQL, "$2::text")+` FROM pg_advisory_xact_lock($1)`,
				lockKey("queue", s.schema, p.Queue), p.Owner); err != nil {
				return err
			}
			if !live {
				return store.ErrInstanceLost
			}
			args := append([]any{planned}, claimArgs(p)...)
			return tx.SelectContext(ctx, &rows, s.claimSQL(p.PartitionConcurrency > 0), args...)
		})
	})
	if err != nil {
		return nil, fmt.Errorf("claim from queue %s: %w", p.Queue, translate(err))
	}
	slices.SortFunc(rows, func(a, b workflowRow) int {
		return cmp.Or(cmp.Compare(a.Priority, b.Priority), cmp.Compare(a.CreatedAt, b.CreatedAt), cmp.Compare(a.Seq, b.Seq))
	})
	out := make([]store.Workflow, len(rows))
	for i, r := range rows {
		out[i] = r.toStore()
		s.wake(store.KeyWorkflow(r.ID))
	}
	return out, nil
}

// claimArgs returns the arguments of claimSQL: $1 now or NULL, $2 Max,
// $3 GlobalConcurrency, $4 the queue, $5 RateLimit, $6 RatePeriod in
// milliseconds, $7 the version, $8 the names, $9 the executor, $10 the
// owner, and for a partitioned queue $11 PartitionConcurrency.
func claimArgs(p store.ClaimParams) []any {
	args := []any{nowArg(p.Now), p.Max, p.GlobalConcurrency, p.Queue, p.RateLimit, p.RatePeriod.Milliseconds(),
		p.ApplicationVersion, p.Names, p.ExecutorID, p.Owner}
	if p.PartitionConcurrency > 0 {
		args = append(args, p.PartitionConcurrency)
	}
	return args
}

// claimSQL returns the claim's statement, whose arguments are claimArgs'.
//
// The statement is planned at each run (see planned), and its update
// finds the rows locked by their keys, = ANY of an array: the planner
// cannot tell how many the LIMIT of a subquery leaves, guesses a tenth of
// the queue, and joined with locked it would hash the whole table on
// every claim.
//
// A partitioned queue ranks each partition's ready rows in claim order
// and takes those whose rank fits in what the partition's PENDING rows
// leave of its limit: the rows SQLite's claim walks to, as window
// functions and FOR UPDATE do not mix in one SELECT.
func (s *Store) claimSQL(partitioned bool) string {
	const ready = `status = 'ENQUEUED' AND queue_name = $4 AND not_before <= t.t AND app_version IN ($7, '')
		AND name = ANY($8::text[])`
	const limit = `LIMIT greatest((SELECT n FROM cap), 0)`
	locked := `locked AS (
			SELECT id AS pid FROM workflows, t WHERE ` + ready + `
			ORDER BY priority, created_at, seq ` + limit + `
			FOR UPDATE OF workflows SKIP LOCKED)`
	if partitioned {
		locked = `picked AS (
			SELECT r.id FROM (
				SELECT id, partition_key, priority, created_at, seq,
					row_number() OVER (PARTITION BY partition_key ORDER BY priority, created_at, seq) AS rank
				FROM workflows, t WHERE ` + ready + ` AND partition_key <> '') AS r
			LEFT JOIN (SELECT partition_key, count(*) AS n FROM workflows
				WHERE status = 'PENDING' AND queue_name = $4 GROUP BY partition_key) AS running USING (partition_key)
			WHERE r.rank <= $11::integer - coalesce(running.n, 0)
			ORDER BY r.priority, r.created_at, r.seq ` + limit + `),
		locked AS (
			SELECT id AS pid FROM workflows WHERE id IN (SELECT id FROM picked) AND status = 'ENQUEUED'
			FOR UPDATE SKIP LOCKED)`
	}
	return `WITH t AS (SELECT coalesce($1::bigint, ` + dbNow + `) AS t),
		cap AS (SELECT least($2::integer,
			CASE WHEN $3::integer > 0 THEN $3::integer - (SELECT count(*) FROM workflows
				WHERE status = 'PENDING' AND queue_name = $4) END,
			CASE WHEN $5::integer > 0 THEN $5::integer - (SELECT count(*) FROM workflows, t
				WHERE queue_name = $4 AND started_at <> 0 AND started_at > t.t - $6::bigint) END) AS n),
		` + locked + `
		UPDATE workflows SET status = 'PENDING', executor_id = $9, owner = $10, app_version = $7,
			started_at = t.t, updated_at = t.t, recovery_attempts = recovery_attempts + 1,
			deadline_at = CASE WHEN deadline_at = 0 AND timeout_ms > 0 THEN t.t + timeout_ms ELSE deadline_at END
		FROM t
		WHERE id = ANY (ARRAY(SELECT pid FROM locked))
		RETURNING ` + workflowColumns
}

// Requeue implements store.Store.
func (s *Store) Requeue(ctx context.Context, p store.RequeueParams) (store.Workflow, error) {
	row, changed, err := s.updateRow(ctx, idempotent, p.WorkflowID, nil, `
		UPDATE workflows SET updated_at = t.t,
					status = CASE WHEN $2::boolean OR recovery_attempts <= $3::integer THEN 'ENQUEUED' ELSE $4 END,
					owner = CASE WHEN $2::boolean OR recovery_attempts <= $3::integer THEN '' ELSE owner END,
					completed_at = CASE WHEN $2::boolean OR recovery_attempts <= $3::integer THEN completed_at ELSE t.t END
				FROM (SELECT coalesce($5::bigint, `+dbNow+`) AS t) AS t
				WHERE id = $1 AND status = 'PENDING' AND queue_name <> '' AND owner = $6`,
		p.WorkflowID, p.MaxAttempts < 0, p.MaxAttempts, store.StatusMaxRecoveryAttemptsExceeded, nowArg(p.Now), p.From)
	if err != nil {
		return store.Workflow{}, fmt.Errorf("requeue workflow %s: %w", p.WorkflowID, translate(err))
	}
	if changed {
		s.wake(store.KeyWorkflow(row.ID))
		if row.Status == string(store.StatusEnqueued) {
			s.wake(store.KeyQueue(row.QueueName))
		}
	}
	return row.toStore(), nil
}
