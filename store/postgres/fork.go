package postgres

import (
	"context"
	"database/sql"
	"errors"
	"fmt"

	"github.com/jmoiron/sqlx"

	"github.com/dboslite/dboslite/store"
)

// ForkWorkflow implements store.Store, in one transaction, tried again
// after a failed commit: a second fork finds the first. The fork is a new
// top-level workflow (no parent) of the source's name and application,
// with no owner, no deadline and no deduplication ID; enqueued, it keeps
// the source's priority, partition key and timeout. What the source's
// steps below p.StartStep wrote comes along:
//
//   - the steps, with their outputs, errors and child IDs;
//   - the event values those steps set (their event_history rows), and
//     each event's value as the last of them set it;
//   - the stream entries those steps wrote, renumbered from 0 in order,
//     so that a stream has no gaps where entries were left behind.
//
// Stream entries and event values written from inside a step carry no
// step number (the store is not told which step was running) and are not
// copied: a fork has what its workflow function wrote as steps.
func (s *Store) ForkWorkflow(ctx context.Context, p store.ForkParams) (store.Workflow, error) {
	if p.StartStep < 1 {
		return store.Workflow{}, fmt.Errorf("fork workflow %s: StartStep %d is below 1", p.SourceID, p.StartStep)
	}
	var row workflowRow
	var keys []string
	err := s.retry(ctx, idempotent, func() error {
		keys = keys[:0]
		return s.inTx(ctx, func(tx *sqlx.Tx) error {
			err := tx.GetContext(ctx, &row, `SELECT `+workflowColumns+` FROM workflows WHERE id = $1`, p.NewID)
			if !errors.Is(err, sql.ErrNoRows) {
				return err // nil: forked already, or another workflow has the ID
			}
			created, err := insertFork(ctx, tx, p, &row)
			if err != nil || !created {
				return err
			}
			if keys, err = copyRecorded(ctx, tx, p); err != nil {
				return err
			}
			keys = append(keys, store.KeyWorkflow(p.NewID))
			if row.QueueName != "" {
				keys = append(keys, store.KeyQueue(row.QueueName))
			}
			return nil
		})
	})
	if err != nil {
		return store.Workflow{}, fmt.Errorf("fork workflow %s as %s: %w", p.SourceID, p.NewID, translate(err))
	}
	s.wake(keys...) // none unless this call forked
	return row.toStore(), nil
}

// insertFork inserts the fork p asks for into row, from its source, and
// reports whether it did: a fork of the same ID that another transaction
// committed meanwhile is read into row instead. The source's absence is
// store.ErrNotFound.
func insertFork(ctx context.Context, tx *sqlx.Tx, p store.ForkParams, row *workflowRow) (bool, error) {
	var rows []workflowRow
	err := tx.SelectContext(ctx, &rows, `INSERT INTO workflows (id, name, status, input, executor_id, app_version, app_name,
			queue_name, timeout_ms, priority, partition_key, created_at, updated_at)
		SELECT $1, name, CASE WHEN $2 <> '' THEN 'ENQUEUED' ELSE 'PENDING' END, coalesce($3, input), executor_id,
			coalesce(nullif($4, ''), app_version), app_name, $2,
			CASE WHEN $2 <> '' THEN timeout_ms ELSE 0 END, CASE WHEN $2 <> '' THEN priority ELSE 0 END,
			CASE WHEN $2 <> '' THEN partition_key ELSE '' END, t.t, t.t
		FROM workflows, (SELECT coalesce($5::bigint, `+dbNow+`) AS t) AS t
		WHERE id = $6
		ON CONFLICT (id) DO NOTHING
		RETURNING `+workflowColumns,
		p.NewID, p.Queue, p.Input, p.ApplicationVersion, nowArg(p.Now), p.SourceID)
	if err != nil {
		return false, err
	}
	if len(rows) == 1 {
		*row = rows[0]
		return true, nil
	}
	err = tx.GetContext(ctx, row, `SELECT `+workflowColumns+` FROM workflows WHERE id = $1`, p.NewID)
	if errors.Is(err, sql.ErrNoRows) {
		return false, store.ErrNotFound // no source to insert from
	}
	return false, err
}

// copyRecorded copies to the fork the steps of its source below
// p.StartStep and the events and stream entries they wrote. It returns
// the keys of the events and streams it gives the fork.
func copyRecorded(ctx context.Context, tx *sqlx.Tx, p store.ForkParams) ([]string, error) {
	if _, err := tx.ExecContext(ctx, `INSERT INTO steps (workflow_id, step_id, name, output, error, child_id, started_at, completed_at)
		SELECT $1, step_id, name, output, error, child_id, started_at, completed_at
		FROM steps WHERE workflow_id = $2 AND step_id < $3`, p.NewID, p.SourceID, p.StartStep); err != nil {
		return nil, err
	}
	if _, err := tx.ExecContext(ctx, `INSERT INTO event_history (workflow_id, step_id, key, value, created_at)
		SELECT $1, step_id, key, value, created_at FROM event_history WHERE workflow_id = $2 AND step_id < $3`,
		p.NewID, p.SourceID, p.StartStep); err != nil {
		return nil, err
	}
	var events []string
	if err := tx.SelectContext(ctx, &events, `INSERT INTO events (workflow_id, key, value, updated_at)
		SELECT DISTINCT ON (key) workflow_id, key, value, created_at FROM event_history
		WHERE workflow_id = $1 ORDER BY key, step_id DESC
		RETURNING key`, p.NewID); err != nil {
		return nil, err
	}
	var streams []string
	if err := tx.SelectContext(ctx, &streams, `INSERT INTO streams (workflow_id, key, pos, value, closed, created_at, step_id)
		SELECT $1, key, row_number() OVER (PARTITION BY key ORDER BY pos) - 1, value, closed, created_at, step_id
		FROM streams WHERE workflow_id = $2 AND step_id < $3
		RETURNING key`, p.NewID, p.SourceID, p.StartStep); err != nil {
		return nil, err
	}
	keys := make([]string, 0, len(events)+len(streams))
	for _, k := range events {
		keys = append(keys, store.KeyEvent(p.NewID, k))
	}
	seen := map[string]bool{}
	for _, k := range streams {
		if !seen[k] {
			seen[k] = true
			keys = append(keys, store.KeyStream(p.NewID, k))
		}
	}
	return keys, nil
}
