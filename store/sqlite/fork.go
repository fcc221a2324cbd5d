package sqlite

import (
	"context"
	"errors"
	"fmt"

	"github.com/dboslite/dboslite/store"
)

// ForkWorkflow implements store.Store. The fork is a new top-level
// workflow (no parent) of the source's name and application, with no
// owner, no deadline and no deduplication ID; enqueued, it keeps the
// source's priority, partition key and timeout. What the source's steps
// below p.StartStep wrote comes along:
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
	err := s.w.doPrepared(ctx, []string{store.KeyWorkflow(p.NewID)}, func(tx *wtx) error {
		err := getWorkflow(tx, p.NewID, &row)
		if !errors.Is(err, store.ErrNotFound) {
			return err // nil: forked already, or another workflow has the ID
		}
		var src workflowRow
		if err := getWorkflow(tx, p.SourceID, &src); err != nil {
			return err
		}
		row = forkRow(src, p, millis(now(p.Now)))
		res, err := tx.Exec(`INSERT INTO workflows (rowid, id, name, status, input, executor_id, app_version, app_name,
				queue_name, timeout_ms, priority, partition_key, created_at, updated_at)
			VALUES (`+nextRowid+`, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?)`,
			row.ID, row.Name, row.Status, row.Input, row.ExecutorID, row.AppVersion, row.AppName,
			row.QueueName, row.TimeoutMS, row.Priority, row.PartitionKey, row.CreatedAt, row.UpdatedAt)
		if err != nil {
			return err
		}
		if row.Seq, err = res.LastInsertId(); err != nil {
			return err
		}
		if row.QueueName != "" {
			tx.notify(store.KeyQueue(row.QueueName))
		}
		return copyRecorded(tx, p)
	})
	if err != nil {
		return store.Workflow{}, fmt.Errorf("fork workflow %s as %s: %w", p.SourceID, p.NewID, translate(err))
	}
	return row.toStore(), nil
}

// forkRow returns the row of the fork of src that p asks for, at t.
func forkRow(src workflowRow, p store.ForkParams, t int64) workflowRow {
	row := workflowRow{ID: p.NewID, Name: src.Name, Status: string(store.StatusPending), Input: src.Input,
		ExecutorID: src.ExecutorID, AppVersion: src.AppVersion, AppName: src.AppName, CreatedAt: t, UpdatedAt: t}
	if p.Input != nil {
		row.Input = p.Input
	}
	if p.ApplicationVersion != "" {
		row.AppVersion = p.ApplicationVersion
	}
	if p.Queue != "" {
		row.Status, row.QueueName = string(store.StatusEnqueued), p.Queue
		row.TimeoutMS, row.Priority, row.PartitionKey = src.TimeoutMS, src.Priority, src.PartitionKey
	}
	return row
}

// copyRecorded copies to the fork the steps of its source below
// p.StartStep and the events and stream entries they wrote, and notes
// the keys of the events and streams it gives the fork.
func copyRecorded(tx *wtx, p store.ForkParams) error {
	if _, err := tx.Exec(`INSERT INTO steps (workflow_id, step_id, name, output, error, child_id, started_at, completed_at)
		SELECT ?, step_id, name, output, error, child_id, started_at, completed_at
		FROM steps WHERE workflow_id = ? AND step_id < ?`, p.NewID, p.SourceID, p.StartStep); err != nil {
		return err
	}
	if _, err := tx.Exec(`INSERT INTO event_history (workflow_id, step_id, key, value, created_at)
		SELECT ?, step_id, key, value, created_at FROM event_history WHERE workflow_id = ? AND step_id < ?`,
		p.NewID, p.SourceID, p.StartStep); err != nil {
		return err
	}
	var events []string
	if err := tx.Select(&events, `INSERT INTO events (workflow_id, key, value, updated_at)
		SELECT workflow_id, key, value, created_at FROM event_history h
		WHERE workflow_id = ? AND step_id = (SELECT max(step_id) FROM event_history
			WHERE workflow_id = h.workflow_id AND key = h.key)
		RETURNING key`, p.NewID); err != nil {
		return err
	}
	for _, k := range events {
		tx.notify(store.KeyEvent(p.NewID, k))
	}
	var streams []string
	if err := tx.Select(&streams, `INSERT INTO streams (workflow_id, key, pos, value, closed, created_at, step_id)
		SELECT ?, key, row_number() OVER (PARTITION BY key ORDER BY pos) - 1, value, closed, created_at, step_id
		FROM streams WHERE workflow_id = ? AND step_id < ?
		RETURNING key`, p.NewID, p.SourceID, p.StartStep); err != nil {
		return err
	}
	seen := map[string]bool{}
	for _, k := range streams {
		if !seen[k] {
			seen[k] = true
			tx.notify(store.KeyStream(p.NewID, k))
		}
	}
	return nil
}
