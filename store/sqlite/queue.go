package sqlite

import (
	"context"
	"database/sql"
	"encoding/json"
	"errors"
	"fmt"
	"slices"

	"github.com/dboslite/dboslite/store"
)

// Enqueue implements store.Store.
func (s *Store) Enqueue(ctx context.Context, p store.EnqueueParams) (store.Workflow, bool, error) {
	var row workflowRow
	var created bool
	err := s.w.doPrepared(ctx, []string{store.KeyWorkflow(p.ID), store.KeyQueue(p.Queue)}, func(tx *wtx) error {
		var err error
		row, created, err = enqueue(tx, p)
		return err
	})
	if err != nil {
		return store.Workflow{}, false, fmt.Errorf("enqueue workflow %s: %w", p.ID, translate(err))
	}
	return row.toStore(), created, nil
}

// enqueue inserts the row unless its ID exists. The ID is looked at before
// the deduplication ID, so enqueueing an existing workflow again returns
// it whatever holds the deduplication ID now.
func enqueue(tx txer, p store.EnqueueParams) (workflowRow, bool, error) {
	var row workflowRow
	if p.Queue == "" {
		return row, false, errors.New("no queue name")
	}
	if p.DeduplicationID != "" {
		err := getWorkflow(tx, p.ID, &row)
		if err == nil || !errors.Is(err, store.ErrNotFound) {
			return row, false, err
		}
		var holder string
		err = tx.Get(&holder, `SELECT id FROM workflows WHERE `+dedupHolder, p.Queue, p.DeduplicationID)
		if err == nil {
			return row, false, &store.DeduplicatedError{Queue: p.Queue, DeduplicationID: p.DeduplicationID, HolderID: holder}
		}
		if !errors.Is(err, sql.ErrNoRows) {
			return row, false, err
		}
	}
	t := millis(now(p.Now))
	row = workflowRow{ID: p.ID, Name: p.Name, Status: string(store.StatusEnqueued), Input: p.Input,
		ExecutorID: p.ExecutorID, AppVersion: p.ApplicationVersion, AppName: p.ApplicationName,
		ParentID: p.ParentID, QueueName: p.Queue, DeadlineAt: millis(p.Deadline), TimeoutMS: p.Timeout.Milliseconds(),
		Priority: p.Priority, DedupID: p.DeduplicationID, PartitionKey: p.PartitionKey, NotBefore: notBefore(p, t),
		CreatedAt: t, UpdatedAt: t, TraceContext: nullString(p.TraceContext)}
	res, err := tx.Exec(`INSERT INTO workflows (rowid, id, name, status, input, executor_id, app_version, app_name,
			parent_id, queue_name, recovery_attempts, deadline_at, timeout_ms, priority, dedup_id, partition_key,
			not_before, created_at, updated_at, trace_context)
		VALUES (`+nextRowid+`, ?, ?, ?, ?, ?, ?, ?, ?, ?, 0, ?, ?, ?, ?, ?, ?, ?, ?, ?) ON CONFLICT (id) DO NOTHING`,
		row.ID, row.Name, row.Status, row.Input, row.ExecutorID, row.AppVersion, row.AppName, row.ParentID, row.QueueName,
		row.DeadlineAt, row.TimeoutMS, row.Priority, row.DedupID, row.PartitionKey, row.NotBefore, row.CreatedAt, row.UpdatedAt,
		row.TraceContext)
	if err != nil {
		return row, false, err
	}
	n, err := res.RowsAffected()
	if err != nil {
		return row, false, err
	}
	if n == 1 {
		row.Seq, err = res.LastInsertId()
		return row, err == nil, err
	}
	return row, false, getWorkflow(tx, p.ID, &row)
}

// dedupHolder selects the active workflow of a queue (the first
// argument) that holds a deduplication ID (the second, not ”): the
// dedup_id != ” lets SQLite look it up in workflows_queue_dedup.
const dedupHolder = `queue_name = ? AND dedup_id = ? AND dedup_id != '' AND status IN ('ENQUEUED', 'PENDING')`

// notBefore is when an enqueued workflow may be claimed: 0 for at once.
func notBefore(p store.EnqueueParams, t int64) int64 {
	if p.Delay <= 0 {
		return 0
	}
	return t + p.Delay.Milliseconds()
}

// Claim implements store.Store.
func (s *Store) Claim(ctx context.Context, p store.ClaimParams) ([]store.Workflow, error) {
	if p.Max <= 0 || len(p.Names) == 0 {
		return nil, nil
	}
	var rows []workflowRow
	err := s.w.doPrepared(ctx, nil, func(tx *wtx) error {
		if err := live(tx, p.Owner); err != nil {
			return err
		}
		var err error
		rows, err = claim(tx, p)
		return err
	})
	if err != nil {
		return nil, fmt.Errorf("claim from queue %s: %w", p.Queue, translate(err))
	}
	out := make([]store.Workflow, len(rows))
	keys := make([]string, len(rows))
	for i, r := range rows {
		out[i] = r.toStore()
		keys[i] = store.KeyWorkflow(r.ID)
	}
	s.hub.notify(keys) // their status changed, committed above
	return out, nil
}

// claim sets the claimable rows PENDING and returns them in claim order.
func claim(tx txer, p store.ClaimParams) ([]workflowRow, error) {
	t := millis(now(p.Now))
	limit, err := capacity(tx, p, t)
	if err != nil || limit <= 0 {
		return nil, err
	}
	ids, err := claimable(tx, p, limit, t)
	if err != nil || len(ids) == 0 {
		return nil, err
	}
	var rows []workflowRow
	err = tx.Select(&rows, `UPDATE workflows SET status = 'PENDING', executor_id = ?, owner = ?, app_version = ?,
			started_at = ?, updated_at = ?, recovery_attempts = recovery_attempts + 1,
			deadline_at = CASE WHEN deadline_at = 0 AND timeout_ms > 0 THEN ? + timeout_ms ELSE deadline_at END
		WHERE status = 'ENQUEUED' AND id IN (SELECT value FROM json_each(?)) RETURNING `+workflowColumns,
		p.ExecutorID, p.Owner, p.ApplicationVersion, t, t, t, jsonList(ids))
	if err != nil {
		return nil, err
	}
	order := make(map[string]int, len(ids))
	for i, id := range ids {
		order[id] = i
	}
	slices.SortFunc(rows, func(a, b workflowRow) int { return order[a.ID] - order[b.ID] })
	return rows, nil
}

// capacity is how many rows the queue's limits admit now, at most p.Max.
func capacity(tx txer, p store.ClaimParams, t int64) (int, error) {
	limit := p.Max
	if p.GlobalConcurrency > 0 {
		var running int
		if err := tx.Get(&running, `SELECT count(*) FROM workflows WHERE status = 'PENDING' AND queue_name = ?`, p.Queue); err != nil {
			return 0, err
		}
		limit = min(limit, p.GlobalConcurrency-running)
	}
	if p.RateLimit > 0 && limit > 0 {
		var started int
		if err := tx.Get(&started, `SELECT count(*) FROM workflows WHERE queue_name = ? AND started_at != 0 AND started_at > ?`,
			p.Queue, t-p.RatePeriod.Milliseconds()); err != nil {
			return 0, err
		}
		limit = min(limit, p.RateLimit-started)
	}
	return limit, nil
}

// readyWhere selects a queue's rows that are due, of a version this worker
// runs and with a name it runs; its arguments are readyArgs. The names
// are one JSON argument, so the statement's text is the same whatever
// their number and the writer keeps it prepared.
const readyWhere = `status = 'ENQUEUED' AND queue_name = ? AND not_before <= ? AND app_version IN (?, '')
	AND name IN (SELECT value FROM json_each(?))`

func readyArgs(p store.ClaimParams, t int64) []any {
	return []any{p.Queue, t, p.ApplicationVersion, jsonList(p.Names)}
}

// jsonList encodes strings as a JSON array.
func jsonList(ss []string) string {
	b, _ := json.Marshal(ss) // strings always encode
	return string(b)
}

// claimable returns the IDs of at most limit rows to claim, in order.
func claimable(tx txer, p store.ClaimParams, limit int, t int64) ([]string, error) {
	if p.PartitionConcurrency <= 0 {
		var ids []string
		return ids, tx.Select(&ids, `SELECT id FROM workflows WHERE `+readyWhere+`
			ORDER BY priority, created_at, rowid LIMIT ?`, append(readyArgs(p, t), limit)...)
	}
	return claimablePartitioned(tx, p, limit, t)
}

// claimablePartitioned walks the first rows of each partition in claim
// order, taking those whose partition has a free slot.
func claimablePartitioned(tx txer, p store.ClaimParams, limit int, t int64) ([]string, error) {
	running := map[string]int{}
	var counts []struct {
		Key string `db:"partition_key"`
		N   int    `db:"n"`
	}
	if err := tx.Select(&counts, `SELECT partition_key, count(*) AS n FROM workflows
		WHERE status = 'PENDING' AND queue_name = ? GROUP BY partition_key`, p.Queue); err != nil {
		return nil, err
	}
	for _, c := range counts {
		running[c.Key] = c.N
	}
	q := `SELECT id, partition_key FROM (
			SELECT id, partition_key, priority, created_at, rowid AS seq,
				row_number() OVER (PARTITION BY partition_key ORDER BY priority, created_at, rowid) AS rank
			FROM workflows WHERE ` + readyWhere + ` AND partition_key != '')
		WHERE rank <= ? ORDER BY priority, created_at, seq`
	args := append(readyArgs(p, t), p.PartitionConcurrency)
	var cands []struct {
		ID  string `db:"id"`
		Key string `db:"partition_key"`
	}
	if err := tx.Select(&cands, q, args...); err != nil {
		return nil, err
	}
	var ids []string
	for _, c := range cands {
		if len(ids) == limit {
			break
		}
		if running[c.Key] < p.PartitionConcurrency {
			running[c.Key]++
			ids = append(ids, c.ID)
		}
	}
	return ids, nil
}

// Requeue implements store.Store.
func (s *Store) Requeue(ctx context.Context, p store.RequeueParams) (store.Workflow, error) {
	var row workflowRow
	err := s.w.doPrepared(ctx, []string{store.KeyWorkflow(p.WorkflowID)}, func(tx *wtx) error {
		t := millis(now(p.Now))
		stop := p.MaxAttempts >= 0
		if _, err := tx.Exec(`UPDATE workflows SET updated_at = ?,
				status = CASE WHEN ? OR recovery_attempts <= ? THEN 'ENQUEUED' ELSE ? END,
				owner = CASE WHEN ? OR recovery_attempts <= ? THEN '' ELSE owner END,
				completed_at = CASE WHEN ? OR recovery_attempts <= ? THEN completed_at ELSE ? END
			WHERE id = ? AND status = 'PENDING' AND queue_name != '' AND owner = ?`,
			t, !stop, p.MaxAttempts, store.StatusMaxRecoveryAttemptsExceeded, !stop, p.MaxAttempts,
			!stop, p.MaxAttempts, t, p.WorkflowID, p.From); err != nil {
			return err
		}
		if err := getWorkflow(tx, p.WorkflowID, &row); err != nil {
			return err
		}
		if row.Status == string(store.StatusEnqueued) {
			tx.notify(store.KeyQueue(row.QueueName))
		}
		return nil
	})
	if err != nil {
		return store.Workflow{}, fmt.Errorf("requeue workflow %s: %w", p.WorkflowID, translate(err))
	}
	return row.toStore(), nil
}
