package sqlite

import (
	"bytes"
	"context"
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
func (s *Store) RecordStep(ctx context.Context, p store.StepParams) error {
	st := p.Step
	err := s.w.doPrepared(ctx, nil, func(tx *wtx) error { return recordStep(tx, p.Owner, st) })
	if err != nil {
		return fmt.Errorf("record step %d of %s: %w", st.StepID, st.WorkflowID, translate(err))
	}
	return nil
}

// recordStep inserts a step unless it is recorded; an identical record is
// accepted, a different one is store.ErrConflict. With an owner, the
// workflow must be that live instance's.
func recordStep(tx txer, owner string, st store.Step) error {
	completed := now(st.CompletedAt)
	started := st.StartedAt
	if started.IsZero() {
		started = completed
	}
	res, err := tx.Exec(`INSERT INTO steps (workflow_id, step_id, name, output, error, child_id, started_at, completed_at)
		SELECT ?, ?, ?, ?, ?, ?, ?, ? WHERE EXISTS (SELECT 1 FROM workflows WHERE id = ? AND status != 'CANCELLED'
			AND (? = '' OR owner = ? AND EXISTS (SELECT 1 FROM instances WHERE id = ? AND dead = 0)))
		ON CONFLICT (workflow_id, step_id) DO NOTHING`,
		st.WorkflowID, st.StepID, st.Name, st.Output, st.Error, st.ChildID, millis(started), millis(completed), st.WorkflowID,
		owner, owner, owner)
	if err != nil {
		return err
	}
	if n, err := res.RowsAffected(); err != nil || n == 1 {
		return err
	}
	if err := fenced(tx, owner, st.WorkflowID); err != nil {
		return err
	}
	var old stepRow
	err = tx.Get(&old, `SELECT workflow_id, step_id, name, output, error, child_id, started_at, completed_at
		FROM steps WHERE workflow_id = ? AND step_id = ?`, st.WorkflowID, st.StepID)
	if err != nil {
		return err
	}
	if old.Name != st.Name || !bytes.Equal(old.Output, st.Output) || !bytes.Equal(old.Error, st.Error) || old.ChildID != st.ChildID {
		return fmt.Errorf("%w: step %d of %s is recorded as %q", store.ErrConflict, st.StepID, st.WorkflowID, old.Name)
	}
	return nil
}

// fenced explains why a write for a workflow was refused: it does not
// exist, it is CANCELLED, or owner is set and another instance owns it
// (or owner is dead). It returns nil when none holds, and the write was
// refused for another reason.
func fenced(tx txer, owner, id string) error {
	var w struct {
		Status string `db:"status"`
		Owner  string `db:"owner"`
	}
	if err := tx.Get(&w, `SELECT status, owner FROM workflows WHERE id = ?`, id); err != nil {
		return translate(err)
	}
	if w.Status == string(store.StatusCancelled) {
		return store.ErrCancelled
	}
	if owner == "" {
		return nil
	}
	if w.Owner != owner {
		return store.ErrNotOwner
	}
	if err := live(tx, owner); err != nil {
		return store.ErrNotOwner
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
