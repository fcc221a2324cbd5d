package postgres

import (
	"context"
	"errors"
	"fmt"
	"strconv"
	"strings"

	"github.com/dboslite/dboslite/store"
)

// What operators do to workflows: queue depths, resume, delete, garbage
// collection. ForkWorkflow is in fork.go.

// finished is the condition that a workflow has ended, whatever the run.
const finished = `status IN ('SUCCESS', 'ERROR', 'CANCELLED', 'MAX_RECOVERY_ATTEMPTS_EXCEEDED')`

// QueueDepths implements store.Store.
func (s *Store) QueueDepths(ctx context.Context) ([]store.QueueDepth, error) {
	var rows []struct {
		Queue    string `db:"queue_name"`
		Enqueued int    `db:"enqueued"`
		Pending  int    `db:"pending"`
	}
	err := s.retry(ctx, read, func() error {
		rows = rows[:0]
		return s.db.SelectContext(ctx, &rows, `SELECT queue_name,
				count(*) FILTER (WHERE status = 'ENQUEUED') AS enqueued,
				count(*) FILTER (WHERE status = 'PENDING') AS pending
			FROM workflows WHERE status IN ('ENQUEUED', 'PENDING') AND queue_name <> ''
			GROUP BY queue_name ORDER BY queue_name`)
	})
	if err != nil {
		return nil, fmt.Errorf("queue depths: %w", translate(err))
	}
	out := make([]store.QueueDepth, len(rows))
	for i, r := range rows {
		out[i] = store.QueueDepth{Queue: r.Queue, Enqueued: r.Enqueued, Pending: r.Pending}
	}
	return out, nil
}

// ResumeWorkflow implements store.Store: one statement, tried again after
// a failed commit, as a second resume changes nothing. The workflow's
// deduplication ID is released: another workflow may hold it by now, and
// a resumed workflow is not a new enqueue.
func (s *Store) ResumeWorkflow(ctx context.Context, p store.ResumeParams) (store.Workflow, error) {
	row, changed, err := s.updateRow(ctx, idempotent, p.WorkflowID, nil, `
		UPDATE workflows SET status = CASE WHEN queue_name <> '' THEN 'ENQUEUED' ELSE 'PENDING' END,
					owner = '', recovery_attempts = 0, deadline_at = 0, output = NULL, error = NULL, completed_at = 0,
					started_at = 0, dedup_id = '', updated_at = t.t
				FROM (SELECT coalesce($2::bigint, `+dbNow+`) AS t) AS t
				WHERE id = $1 AND status IN ('ERROR', 'CANCELLED', 'MAX_RECOVERY_ATTEMPTS_EXCEEDED')`,
		p.WorkflowID, nowArg(p.Now))
	if err != nil {
		return store.Workflow{}, fmt.Errorf("resume workflow %s: %w", p.WorkflowID, translate(err))
	}
	if changed {
		s.wake(store.KeyWorkflow(row.ID))
		if row.Status == string(store.StatusEnqueued) {
			s.wake(store.KeyQueue(row.QueueName))
		}
	}
	return row.toStore(), nil
}

// deleted is a row a delete removed.
type deleted struct {
	ID     string `db:"id"`
	Queue  string `db:"queue_name"`
	Status string `db:"status"`
}

// wakeDeleted wakes what the deletion of rows changed: a waiter for a
// result finds the workflow gone, a queue a free slot.
func (s *Store) wakeDeleted(rows []deleted) {
	for _, r := range rows {
		s.wake(store.KeyWorkflow(r.ID))
		if r.Queue != "" && !store.Status(r.Status).Terminal() {
			s.wake(store.KeyQueue(r.Queue))
		}
	}
}

// DeleteWorkflows implements store.Store. The schema's ON DELETE CASCADE
// deletes what a workflow owns; the descendants are found by a recursive
// walk of parent_id (UNION, not UNION ALL: a cycle ends). A second delete
// would count nothing, so one whose commit failed is not tried again.
func (s *Store) DeleteWorkflows(ctx context.Context, p store.DeleteParams) (int, error) {
	if len(p.IDs) == 0 {
		return 0, nil
	}
	var rows []deleted
	err := s.retry(ctx, once, func() error {
		rows = rows[:0]
		return committing(s.db.SelectContext(ctx, &rows, `WITH RECURSIVE doomed (id) AS (
				SELECT unnest($1::text[]) COLLATE "C"
				UNION
				SELECT w.id FROM workflows w JOIN doomed d ON w.parent_id = d.id WHERE $2::boolean AND w.parent_id <> '')
			DELETE FROM workflows WHERE id IN (SELECT id FROM doomed) RETURNING id, queue_name, status`,
			p.IDs, p.Children))
	})
	if err != nil {
		return 0, fmt.Errorf("delete workflows: %w", translate(err))
	}
	s.wakeDeleted(rows)
	return len(rows), nil
}

// CollectGarbage implements store.Store. The selection and the delete are
// one statement, and the delete checks the status again: a row that a
// resume made active after the statement's snapshot was taken is locked
// by the delete, which waits for the resume to commit and then reads the
// row again (PostgreSQL's recheck of an updated row under READ
// COMMITTED), finds it active and leaves it. Not tried again after a
// failed commit: it would count what it deleted the second time only.
func (s *Store) CollectGarbage(ctx context.Context, p store.GCParams) (int, error) {
	if p.Batch <= 0 {
		return 0, errors.New("collect garbage: Batch must be positive")
	}
	q, args := gcQuery(p)
	if q == "" {
		return 0, nil // nothing selected
	}
	var rows []deleted
	err := s.retry(ctx, once, func() error {
		rows = rows[:0]
		return committing(s.db.SelectContext(ctx, &rows, q, args...))
	})
	if err != nil {
		return 0, fmt.Errorf("collect garbage: %w", translate(err))
	}
	s.wakeDeleted(rows)
	return len(rows), nil
}

// gcQuery returns the statement of a garbage collection and its
// arguments, or "" if p selects nothing.
func gcQuery(p store.GCParams) (string, []any) {
	var selects []string
	var args []any
	arg := func(v any) string {
		args = append(args, v)
		return "$" + strconv.Itoa(len(args))
	}
	if !p.CompletedBefore.IsZero() {
		selects = append(selects, "completed_at < "+arg(millis(p.CompletedBefore))+"::bigint")
	}
	if p.KeepNewest > 0 {
		selects = append(selects, `(insert_xid, seq) < (SELECT insert_xid, seq FROM workflows WHERE `+finished+`
			ORDER BY insert_xid DESC, seq DESC OFFSET `+arg(p.KeepNewest-1)+`::integer LIMIT 1)`)
	}
	if len(selects) == 0 {
		return "", nil
	}
	q := `DELETE FROM workflows WHERE id IN (
			SELECT id FROM workflows WHERE ` + finished + ` AND (` + strings.Join(selects, " OR ") + `)
			ORDER BY insert_xid, seq LIMIT ` + arg(p.Batch) + `::integer)
		AND ` + finished + ` RETURNING id, queue_name, status`
	return q, args
}
