package postgres

import (
	"bytes"
	"context"
	"database/sql"
	"errors"
	"fmt"

	"github.com/jmoiron/sqlx"

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

// RecordStep implements store.Store: one statement, one round trip, when
// the step is new. Concurrent calls are written together (see group.go and
// recordSteps); a step the batch did not insert is looked at alone, to say
// why.
func (s *Store) RecordStep(ctx context.Context, p store.StepParams) error {
	_, err := s.steps.do(ctx, p)
	if err != nil {
		return fmt.Errorf("record step %d of %s: %w", p.Step.StepID, p.Step.WorkflowID, translate(err))
	}
	return nil
}

// recordStep inserts a step unless it is recorded; an identical record is
// accepted, a different one is store.ErrConflict. With an owner, the
// workflow must be that live instance's. q is the pool, or the
// transaction of a write that records a step with what it writes.
//
// The insert locks the workflow's row FOR SHARE. A cancel or an adoption
// updates that row, so either it waits for the step's transaction, or
// the step's statement waits for it and then finds the row CANCELLED or
// owned by another: a step of the old owner never lands after an
// adoption that the new owner has seen.
func recordStep(ctx context.Context, q sqlx.ExtContext, owner string, st store.Step) error {
	res, err := q.ExecContext(ctx, `INSERT INTO steps (workflow_id, step_id, name, output, error, child_id, started_at, completed_at)
		SELECT w.id, $2::integer, $3::text, $4::bytea, $5::bytea, $6::text, coalesce($7::bigint, t.t), t.t
		FROM workflows w, (SELECT coalesce($8::bigint, `+dbNow+`) AS t) AS t
		WHERE w.id = $1::text AND w.status <> 'CANCELLED' AND `+fmt.Sprintf(ownedSQL, "$9::text")+`
		FOR SHARE OF w
		ON CONFLICT (workflow_id, step_id) DO NOTHING`,
		st.WorkflowID, st.StepID, st.Name, st.Output, st.Error, st.ChildID, nowArg(st.StartedAt), nowArg(st.CompletedAt), owner)
	if err != nil {
		return err
	}
	if n, err := res.RowsAffected(); err != nil || n == 1 {
		return err
	}
	return refused(ctx, q, owner, st)
}

// refused explains why recordStep inserted nothing: the workflow does
// not exist, is CANCELLED, or is not the live owner's; or the step is
// recorded, identically (nil) or not (store.ErrConflict).
func refused(ctx context.Context, q sqlx.ExtContext, owner string, st store.Step) error {
	var w struct {
		Status   string         `db:"status"`
		Owner    string         `db:"owner"`
		Live     bool           `db:"live"`
		Recorded bool           `db:"recorded"`
		Name     sql.NullString `db:"name"`
		Output   []byte         `db:"output"`
		Error    []byte         `db:"error"`
		ChildID  sql.NullString `db:"child_id"`
	}
	err := sqlx.GetContext(ctx, q, &w, `SELECT w.status, w.owner,
			EXISTS (SELECT 1 FROM instances WHERE id = $3 AND NOT dead) AS live,
			s.step_id IS NOT NULL AS recorded, s.name, s.output, s.error, s.child_id
		FROM workflows w LEFT JOIN steps s ON s.workflow_id = w.id AND s.step_id = $2
		WHERE w.id = $1`, st.WorkflowID, st.StepID, owner)
	switch {
	case errors.Is(err, sql.ErrNoRows):
		return store.ErrNotFound
	case err != nil:
		return err
	case w.Status == string(store.StatusCancelled):
		return store.ErrCancelled
	case owner != "" && (w.Owner != owner || !w.Live):
		return store.ErrNotOwner
	case !w.Recorded:
		return fmt.Errorf("step %d of %s was refused, and nothing says why", st.StepID, st.WorkflowID)
	case w.Name.String != st.Name || !bytes.Equal(w.Output, st.Output) || !bytes.Equal(w.Error, st.Error) || w.ChildID.String != st.ChildID:
		return fmt.Errorf("%w: step %d of %s is recorded as %q", store.ErrConflict, st.StepID, st.WorkflowID, w.Name.String)
	}
	return nil
}

// Steps implements store.Store.
func (s *Store) Steps(ctx context.Context, workflowID string) ([]store.Step, error) {
	var rows []stepRow
	err := s.retry(ctx, read, func() error {
		rows = rows[:0]
		return s.db.SelectContext(ctx, &rows, `SELECT workflow_id, step_id, name, output, error, child_id, started_at, completed_at
			FROM steps WHERE workflow_id = $1 ORDER BY step_id`, workflowID)
	})
	if err != nil {
		return nil, fmt.Errorf("steps of %s: %w", workflowID, translate(err))
	}
	out := make([]store.Step, len(rows))
	for i, r := range rows {
		out[i] = r.toStore()
	}
	return out, nil
}
