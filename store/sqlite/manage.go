package sqlite

import (
	"context"
	"errors"
	"fmt"
	"strings"

	"github.com/dboslite/dboslite/store"
)

// What operators do to workflows: queue depths, resume, delete, garbage
// collection. ForkWorkflow is in fork.go.

// finished is the condition that a workflow has ended, whatever the run.
const finished = `status IN ('SUCCESS', 'ERROR', 'CANCELLED', 'MAX_RECOVERY_ATTEMPTS_EXCEEDED')`

// queueDepths counts the active workflows of each queue. Each half of
// the union reads one partial index of the queues (workflows_queue_ready,
// workflows_queue_running).
const queueDepths = `SELECT queue_name, sum(status = 'ENQUEUED') AS enqueued, sum(status = 'PENDING') AS pending
	FROM (SELECT queue_name, status FROM workflows WHERE status = 'ENQUEUED' AND queue_name != ''
		UNION ALL
		SELECT queue_name, status FROM workflows WHERE status = 'PENDING' AND queue_name != '')
	GROUP BY queue_name ORDER BY queue_name`

// QueueDepths implements store.Store.
func (s *Store) QueueDepths(ctx context.Context) ([]store.QueueDepth, error) {
	var rows []struct {
		Queue    string `db:"queue_name"`
		Enqueued int    `db:"enqueued"`
		Pending  int    `db:"pending"`
	}
	err := s.reader.SelectContext(ctx, &rows, queueDepths)
	if err != nil {
		return nil, fmt.Errorf("queue depths: %w", s.readErr(err))
	}
	out := make([]store.QueueDepth, len(rows))
	for i, r := range rows {
		out[i] = store.QueueDepth{Queue: r.Queue, Enqueued: r.Enqueued, Pending: r.Pending}
	}
	return out, nil
}

// ResumeWorkflow implements store.Store. The workflow's deduplication ID
// is released: another workflow may hold it by now, and a resumed
// workflow is not a new enqueue.
func (s *Store) ResumeWorkflow(ctx context.Context, p store.ResumeParams) (store.Workflow, error) {
	var row workflowRow
	err := s.w.doPrepared(ctx, []string{store.KeyWorkflow(p.WorkflowID)}, func(tx *wtx) error {
		res, err := tx.Exec(`UPDATE workflows SET
				status = CASE WHEN queue_name != '' THEN 'ENQUEUED' ELSE 'PENDING' END,
				owner = '', recovery_attempts = 0, deadline_at = 0, output = NULL, error = NULL, completed_at = 0,
				started_at = 0, dedup_id = '', updated_at = ?
			WHERE id = ? AND status IN ('ERROR', 'CANCELLED', 'MAX_RECOVERY_ATTEMPTS_EXCEEDED')`,
			millis(now(p.Now)), p.WorkflowID)
		if err != nil {
			return err
		}
		n, err := res.RowsAffected()
		if err != nil {
			return err
		}
		if err := getWorkflow(tx, p.WorkflowID, &row); err != nil {
			return err
		}
		if n == 1 && row.Status == string(store.StatusEnqueued) {
			tx.notify(store.KeyQueue(row.QueueName))
		}
		return nil
	})
	if err != nil {
		return store.Workflow{}, fmt.Errorf("resume workflow %s: %w", p.WorkflowID, translate(err))
	}
	return row.toStore(), nil
}

// deleted is a row a delete removed: its watchers are woken, and its
// queue if it held a slot there.
type deleted struct {
	ID     string `db:"id"`
	Queue  string `db:"queue_name"`
	Status string `db:"status"`
}

// wakeDeleted notes the keys the deletion of rows wakes: a waiter for a result
// finds the workflow gone, a queue a free slot.
func wakeDeleted(tx *wtx, rows []deleted) {
	for _, r := range rows {
		tx.notify(store.KeyWorkflow(r.ID))
		if r.Queue != "" && !store.Status(r.Status).Terminal() {
			tx.notify(store.KeyQueue(r.Queue))
		}
	}
}

// DeleteWorkflows implements store.Store. The schema's ON DELETE CASCADE
// deletes what a workflow owns; the descendants are found by a recursive
// walk of parent_id (UNION, not UNION ALL: a cycle ends).
func (s *Store) DeleteWorkflows(ctx context.Context, p store.DeleteParams) (int, error) {
	if len(p.IDs) == 0 {
		return 0, nil
	}
	var rows []deleted
	err := s.w.doPrepared(ctx, nil, func(tx *wtx) error {
		rows = rows[:0]
		if err := tx.Select(&rows, `WITH RECURSIVE doomed (id) AS (
				SELECT value FROM json_each(?)
				UNION
				SELECT w.id FROM workflows w JOIN doomed d ON w.parent_id = d.id WHERE ? AND w.parent_id != '')
			DELETE FROM workflows WHERE id IN (SELECT id FROM doomed) RETURNING id, queue_name, status`,
			jsonList(p.IDs), p.Children); err != nil {
			return err
		}
		wakeDeleted(tx, rows)
		return nil
	})
	if err != nil {
		return 0, fmt.Errorf("delete workflows: %w", translate(err))
	}
	return len(rows), nil
}

// CollectGarbage implements store.Store. The selection and the delete are
// one statement in the writer's transaction, and the delete checks the
// status again itself.
func (s *Store) CollectGarbage(ctx context.Context, p store.GCParams) (int, error) {
	if p.Batch <= 0 {
		return 0, errors.New("collect garbage: Batch must be positive")
	}
	q, args := gcQuery(p)
	if q == "" {
		return 0, nil // nothing selected
	}
	var rows []deleted
	err := s.w.doPrepared(ctx, nil, func(tx *wtx) error {
		rows = rows[:0]
		if err := tx.Select(&rows, q, args...); err != nil {
			return err
		}
		wakeDeleted(tx, rows)
		return nil
	})
	if err != nil {
		return 0, fmt.Errorf("collect garbage: %w", translate(err))
	}
	return len(rows), nil
}

// gcQuery returns the statement of a garbage collection and its
// arguments, or "" if p selects nothing. Finished rows are found by
// walking the table in rowid order, oldest first (or newest first, to
// skip the KeepNewest): +status keeps SQLite from the status index, with
// which it would sort every finished row to find the first few.
func gcQuery(p store.GCParams) (string, []any) {
	var selects []string
	var args []any
	if !p.CompletedBefore.IsZero() {
		selects = append(selects, "completed_at < ?")
		args = append(args, millis(p.CompletedBefore))
	}
	if p.KeepNewest > 0 {
		selects = append(selects, `rowid < (SELECT rowid FROM workflows WHERE +`+finished+`
			ORDER BY rowid DESC LIMIT 1 OFFSET ?)`)
		args = append(args, p.KeepNewest-1)
	}
	if len(selects) == 0 {
		return "", nil
	}
	q := `DELETE FROM workflows WHERE rowid IN (
			SELECT rowid FROM workflows WHERE +` + finished + ` AND (` + strings.Join(selects, " OR ") + `)
			ORDER BY rowid LIMIT ?)
		AND ` + finished + ` RETURNING id, queue_name, status`
	return q, append(args, p.Batch)
}
