package sqlite

import (
	"bytes"
	"context"
	"errors"
	"fmt"

	"github.com/dboslite/dboslite/store"
)

type stepRow struct {
	WorkflowID  string `db:"workflow_id"`
	StepID      int    `db:"step_id"`
	Name        string `db:"name"`
	Output      []byte `db:"output"`
	Error       []byte `db:"error"`
	ChildID     string `db:"child_id"`
	StartedAt   int64  `db:"started_at"`
	CompletedAt int64  `db:"completed_at"`
}

func (r stepRow) toStore() store.Step {
	return store.Step{
		WorkflowID:  r.WorkflowID,
		StepID:      r.StepID,
		Name:        r.Name,
		Output:      r.Output,
		Error:       r.Error,
		ChildID:     r.ChildID,
		StartedAt:   fromMillis(r.StartedAt),
		CompletedAt: fromMillis(r.CompletedAt),
	}
}

// RecordStep implements store.Store.
func (s *Store) RecordStep(ctx context.Context, st store.Step) error {
	err := s.w.doPrepared(ctx, nil, func(tx *wtx) error { return recordStep(tx, st) })
	if err != nil {
		return fmt.Errorf("record step %d of %s: %w", st.StepID, st.WorkflowID, translate(err))
	}
	return nil
}

// recordStep inserts a step unless it is recorded; an identical record is
// accepted, a different one is store.ErrConflict.
func recordStep(tx txer, st store.Step) error {
	completed := now(st.CompletedAt)
	started := st.StartedAt
	if started.IsZero() {
		started = completed
	}
	res, err := tx.Exec(`INSERT INTO steps (workflow_id, step_id, name, output, error, child_id, started_at, completed_at)
		SELECT ?, ?, ?, ?, ?, ?, ?, ? WHERE EXISTS (SELECT 1 FROM workflows WHERE id = ? AND status != 'CANCELLED')
		ON CONFLICT (workflow_id, step_id) DO NOTHING`,
		st.WorkflowID, st.StepID, st.Name, st.Output, st.Error, st.ChildID, millis(started), millis(completed), st.WorkflowID)
	if err != nil {
		return err
	}
	if n, err := res.RowsAffected(); err != nil || n == 1 {
		return err
	}
	var old stepRow
	err = tx.Get(&old, `SELECT workflow_id, step_id, name, output, error, child_id, started_at, completed_at
		FROM steps WHERE workflow_id = ? AND step_id = ?`, st.WorkflowID, st.StepID)
	if errors.Is(translate(err), store.ErrNotFound) {
		if err := exists(tx, st.WorkflowID); err != nil {
			return err
		}
		return store.ErrCancelled
	}
	if err != nil {
		return err
	}
	if old.Name != st.Name || !bytes.Equal(old.Output, st.Output) || !bytes.Equal(old.Error, st.Error) || old.ChildID != st.ChildID {
		return fmt.Errorf("%w: step %d of %s is recorded as %q", store.ErrConflict, st.StepID, st.WorkflowID, old.Name)
	}
	return nil
}

// Steps implements store.Store.
func (s *Store) Steps(ctx context.Context, workflowID string) ([]store.Step, error) {
	var rows []stepRow
	err := s.reader.SelectContext(ctx, &rows, `SELECT workflow_id, step_id, name, output, error, child_id, started_at, completed_at
		FROM steps WHERE workflow_id = ? ORDER BY step_id`, workflowID)
	if err != nil {
		return nil, fmt.Errorf("steps of %s: %w", workflowID, s.readErr(err))
	}
	out := make([]store.Step, len(rows))
	for i, r := range rows {
		out[i] = r.toStore()
	}
	return out, nil
}
