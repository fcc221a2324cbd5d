package postgres

import (
	"context"
	"database/sql"
	"errors"
	"fmt"
	"time"

	"github.com/dboslite/dboslite/store"
)

// workflowRow is a workflows row as scanned; toStore converts it.
type workflowRow struct {
	InsertXID        int64  `db:"insert_xid"` // with Seq, the Position: see list.go
	Seq              int64  `db:"seq"`
	ID               string `db:"id"`
	Name             string `db:"name"`
	Status           string `db:"status"`
	Input            []byte `db:"input"`
	Output           []byte `db:"output"`
	Error            []byte `db:"error"`
	ExecutorID       string `db:"executor_id"`
	Owner            string `db:"owner"`
	AppVersion       string `db:"app_version"`
	AppName          string `db:"app_name"`
	ParentID         string `db:"parent_id"`
	QueueName        string `db:"queue_name"`
	RecoveryAttempts int    `db:"recovery_attempts"`
	DeadlineAt       int64  `db:"deadline_at"`
	TimeoutMS        int64  `db:"timeout_ms"`
	Priority         int    `db:"priority"`
	DedupID          string `db:"dedup_id"`
	PartitionKey     string `db:"partition_key"`
	NotBefore        int64  `db:"not_before"`
	StartedAt        int64  `db:"started_at"`
	CreatedAt        int64  `db:"created_at"`
	UpdatedAt        int64  `db:"updated_at"`
	CompletedAt      int64  `db:"completed_at"`

	TraceContext sql.NullString `db:"trace_context"` // NULL when untraced
}

// The columns of a workflowRow: workflowColumns, or listColumns without
// the payloads.
const (
	workflowColumns = `insert_xid, seq, id, name, status, input, output, error, ` + restColumns
	listColumns     = `insert_xid, seq, id, name, status, NULL::bytea AS input, NULL::bytea AS output, error, ` + restColumns
	restColumns     = `executor_id, owner, app_version, app_name,
	parent_id, queue_name, recovery_attempts, deadline_at, timeout_ms, priority, dedup_id, partition_key,
	not_before, started_at, created_at, updated_at, completed_at, trace_context`
)

func (r workflowRow) toStore() store.Workflow {
	return store.Workflow{
		ID:                 r.ID,
		Name:               r.Name,
		Status:             store.Status(r.Status),
		Input:              r.Input,
		Output:             r.Output,
		Error:              r.Error,
		ExecutorID:         r.ExecutorID,
		Owner:              r.Owner,
		ApplicationVersion: r.AppVersion,
		ApplicationName:    r.AppName,
		ParentID:           r.ParentID,
		QueueName:          r.QueueName,
		RecoveryAttempts:   r.RecoveryAttempts,
		Deadline:           fromMillis(r.DeadlineAt),
		Timeout:            time.Duration(r.TimeoutMS) * time.Millisecond,
		Priority:           r.Priority,
		DeduplicationID:    r.DedupID,
		PartitionKey:       r.PartitionKey,
		NotBefore:          fromMillis(r.NotBefore),
		StartedAt:          fromMillis(r.StartedAt),
		CreatedAt:          fromMillis(r.CreatedAt),
		UpdatedAt:          fromMillis(r.UpdatedAt),
		CompletedAt:        fromMillis(r.CompletedAt),
		TraceContext:       r.TraceContext.String,
		Position:           position(r.InsertXID, r.Seq),
	}
}

// Conditions on an instance named by an argument, written in with
// fmt.Sprintf, %[1]s being the argument.
//
// liveSQL is true when it is empty or a live instance; a write that gives
// a workflow to an owner (CreateWorkflow, Claim, RecoverWorkflow) checks
// it. It locks the instance's row FOR KEY SHARE, as a foreign key check
// does: that waits for no heartbeat and no expiry, but forgetDead's FOR
// UPDATE waits for it, so a dead instance is never forgotten while a
// workflow is being given to it, which no adoption would then find.
//
// ownedSQL is true when it is empty or a live instance that owns the row:
// a write made for a running workflow (RecordStep, SetOutcome) checks it.
const (
	liveSQL  = `(%[1]s = '' OR EXISTS (SELECT 1 FROM instances WHERE id = %[1]s AND NOT dead FOR KEY SHARE))`
	ownedSQL = `(%[1]s = '' OR owner = %[1]s AND EXISTS (SELECT 1 FROM instances WHERE id = %[1]s AND NOT dead))`
)

// CreateWorkflow implements store.Store. The insert and its condition
// that the owner is a live instance are one statement: one round trip.
// Only a create that finds the ID taken reads the row. Concurrent creates
// are written together (see group.go and createWorkflows).
func (s *Store) CreateWorkflow(ctx context.Context, p store.WorkflowCreateParams) (store.Workflow, bool, error) {
	c, err := s.creates.do(ctx, p)
	if err != nil {
		return store.Workflow{}, false, fmt.Errorf("create workflow %s: %w", p.ID, translate(err))
	}
	if c.created {
		s.wake(store.KeyWorkflow(p.ID))
	}
	return c.row.toStore(), c.created, nil
}

// creation is what a create did: the row as stored, and whether the
// create inserted it.
type creation struct {
	row     workflowRow
	created bool
}

// createWorkflow is CreateWorkflow alone.
func (s *Store) createWorkflow(ctx context.Context, p store.WorkflowCreateParams) (creation, error) {
	var c creation
	err := s.retry(ctx, idempotent, func() error {
		var rows []workflowRow
		err := s.db.SelectContext(ctx, &rows, `WITH t AS (SELECT coalesce($10::bigint, `+dbNow+`) AS t),
			ins AS (
				INSERT INTO workflows (id, name, status, input, executor_id, owner, app_version, app_name,
					parent_id, recovery_attempts, deadline_at, created_at, updated_at, trace_context)
				SELECT $1::text, $2::text, 'PENDING', $3::bytea, $4::text, $5::text, $6::text, $7::text, $8::text, 1, $9::bigint, t.t, t.t,
					nullif($11::text, '') FROM t
				WHERE `+fmt.Sprintf(liveSQL, "$5::text")+`
				ON CONFLICT (id) DO NOTHING
				RETURNING `+workflowColumns+`)
			SELECT `+workflowColumns+` FROM ins`,
			p.ID, p.Name, p.Input, p.ExecutorID, p.Owner, p.ApplicationVersion, p.ApplicationName, p.ParentID,
			millis(p.Deadline), nowArg(p.Now), p.TraceContext)
		if err != nil {
			return err
		}
		if c.created = len(rows) == 1; c.created {
			c.row = rows[0]
			return nil
		}
		c.row, err = s.notCreated(ctx, p)
		return err
	})
	return c, err
}

// notCreated reads the row that a create found taken. Returns
// store.ErrInstanceLost if there is none and the create had an owner: it
// was refused as the owner is not live.
func (s *Store) notCreated(ctx context.Context, p store.WorkflowCreateParams) (workflowRow, error) {
	var row workflowRow
	err := s.db.GetContext(ctx, &row, `SELECT `+workflowColumns+` FROM workflows WHERE id = $1`, p.ID)
	if errors.Is(err, sql.ErrNoRows) && p.Owner != "" {
		return row, store.ErrInstanceLost
	}
	return row, err
}

// GetWorkflow implements store.Store.
func (s *Store) GetWorkflow(ctx context.Context, id string) (store.Workflow, error) {
	var row workflowRow
	err := s.retry(ctx, read, func() error {
		return s.db.GetContext(ctx, &row, `SELECT `+workflowColumns+` FROM workflows WHERE id = $1`, id)
	})
	if err != nil {
		return store.Workflow{}, fmt.Errorf("get workflow %s: %w", id, translate(err))
	}
	return row.toStore(), nil
}

func toStore(rows []workflowRow) []store.Workflow {
	out := make([]store.Workflow, len(rows))
	for i, r := range rows {
		out[i] = r.toStore()
	}
	return out
}

// SetOutcome implements store.Store. The update and its fencing are one
// statement; only an outcome that is refused reads why. Concurrent
// outcomes are written together (see group.go and setOutcomes).
func (s *Store) SetOutcome(ctx context.Context, p store.OutcomeParams) (bool, error) {
	if p.Status != store.StatusSuccess && p.Status != store.StatusError {
		return false, fmt.Errorf("set outcome of %s: status %s is not an outcome", p.WorkflowID, p.Status)
	}
	o, err := s.outcomes.do(ctx, p)
	if err != nil {
		return false, fmt.Errorf("set outcome of %s: %w", p.WorkflowID, translate(err))
	}
	if o.updated {
		s.wake(store.KeyWorkflow(p.WorkflowID))
		if o.queue != "" {
			s.wake(store.KeyQueue(o.queue)) // a slot is free
		}
	}
	return o.updated, nil
}

// outcome is what SetOutcome did: whether it set the outcome, and the
// workflow's queue if it did.
type outcome struct {
	updated bool
	queue   string
}

// setOutcome is SetOutcome alone.
func (s *Store) setOutcome(ctx context.Context, p store.OutcomeParams) (outcome, error) {
	var o outcome
	err := s.retry(ctx, idempotent, func() error {
		o = outcome{}
		var rows []struct {
			Queue string `db:"queue_name"`
		}
		err := s.db.SelectContext(ctx, &rows, `WITH u AS (
				UPDATE workflows SET status = $2, output = $3, error = $4, completed_at = t.t, updated_at = t.t
				FROM (SELECT coalesce($5::bigint, `+dbNow+`) AS t) AS t
				WHERE id = $1 AND status = 'PENDING' AND `+fmt.Sprintf(ownedSQL, "$6::text")+`
				RETURNING queue_name)
			SELECT queue_name
			FROM u`,
			p.WorkflowID, p.Status, p.Output, p.Error, nowArg(p.Now), p.Owner)
		if err != nil {
			return err
		}
		if len(rows) == 1 {
			o = outcome{updated: true, queue: rows[0].Queue}
			return nil
		}
		return s.notSet(ctx, p)
	})
	return o, err
}

// notSet says why an outcome was not set: store.ErrNotFound if the
// workflow does not exist, store.ErrNotOwner if it is PENDING (so the
// owner was not the caller), nil if it is not PENDING any more.
func (s *Store) notSet(ctx context.Context, p store.OutcomeParams) error {
	var status string
	if err := s.db.GetContext(ctx, &status, `SELECT status FROM workflows WHERE id = $1`, p.WorkflowID); err != nil {
		return err
	}
	if status == string(store.StatusPending) {
		return store.ErrNotOwner
	}
	return nil
}

// RecoverWorkflow implements store.Store. A recovery from an owner to
// another is tried again after a failed commit: it changes nothing a
// second time, as the workflow is no longer p.From's.
func (s *Store) RecoverWorkflow(ctx context.Context, p store.RecoverParams) (store.Workflow, error) {
	maxAttempts := int64(p.MaxAttempts) + 1
	if p.MaxAttempts < 0 {
		maxAttempts = -1
	}
	k := idempotent
	if p.From == p.Owner {
		k = once
	}
	row, changed, err := s.updateRow(ctx, k, p.WorkflowID, func() error { return s.live(ctx, p.Owner) }, `
		UPDATE workflows SET recovery_attempts = recovery_attempts + 1, executor_id = $2, owner = $3,
					updated_at = t.t,
					status = CASE WHEN $4 >= 0 AND recovery_attempts + 1 > $4 THEN $5 ELSE status END,
					completed_at = CASE WHEN $4 >= 0 AND recovery_attempts + 1 > $4 THEN t.t ELSE completed_at END
				FROM (SELECT coalesce($7::bigint, `+dbNow+`) AS t) AS t
				WHERE id = $1 AND status = 'PENDING' AND owner = $6 AND ($8 = '' OR app_version IN ($8, ''))
					AND `+fmt.Sprintf(liveSQL, "$3::text"),
		p.WorkflowID, p.ExecutorID, p.Owner, maxAttempts, store.StatusMaxRecoveryAttemptsExceeded, p.From,
		nowArg(p.Now), p.ApplicationVersion)
	if err != nil {
		return store.Workflow{}, fmt.Errorf("recover workflow %s: %w", p.WorkflowID, translate(err))
	}
	if changed {
		s.wake(store.KeyWorkflow(p.WorkflowID))
	}
	return row.toStore(), nil
}

// live returns store.ErrInstanceLost unless owner is empty or a live
// instance: a dead instance is given no workflow, so none of its
// workflows escapes adoption.
func (s *Store) live(ctx context.Context, owner string) error {
	if owner == "" {
		return nil
	}
	var live bool
	if err := s.db.GetContext(ctx, &live, `SELECT EXISTS (SELECT 1 FROM instances WHERE id = $1 AND NOT dead)`, owner); err != nil {
		return err
	}
	if !live {
		return store.ErrInstanceLost
	}
	return nil
}

// CancelWorkflow implements store.Store. It notifies the workflow, its
// queue (a slot may be free) and its owner, which must stop running it.
func (s *Store) CancelWorkflow(ctx context.Context, p store.CancelParams) (store.Workflow, error) {
	row, changed, err := s.updateRow(ctx, idempotent, p.WorkflowID, nil, `
		UPDATE workflows SET status = 'CANCELLED', error = $2, completed_at = t.t, updated_at = t.t
				FROM (SELECT coalesce($3::bigint, `+dbNow+`) AS t) AS t
				WHERE id = $1 AND status NOT IN ('SUCCESS', 'ERROR', 'CANCELLED')`,
		p.WorkflowID, p.Reason, nowArg(p.Now))
	if err != nil {
		return store.Workflow{}, fmt.Errorf("cancel workflow %s: %w", p.WorkflowID, translate(err))
	}
	if changed {
		s.wake(store.KeyWorkflow(row.ID))
		if row.QueueName != "" {
			s.wake(store.KeyQueue(row.QueueName))
		}
		if row.Owner != "" {
			s.wake(store.KeyCancelled(row.Owner))
		}
	}
	return row.toStore(), nil
}

// updateRow runs update, an UPDATE of the workflow id whose RETURNING
// clause updateRow adds, tried again as k says. When it changes nothing,
// refused (if set) may say why, and the row is read as it stands. It
// returns the row and whether update changed it.
func (s *Store) updateRow(ctx context.Context, k kind, id string, refused func() error, update string, args ...any) (workflowRow, bool, error) {
	var row workflowRow
	var changed bool
	err := s.retry(ctx, k, func() error {
		var rows []workflowRow
		if err := s.db.SelectContext(ctx, &rows, update+` RETURNING `+workflowColumns, args...); err != nil {
			return err
		}
		if changed = len(rows) == 1; changed {
			row = rows[0]
			return nil
		}
		if refused != nil {
			if err := refused(); err != nil {
				return err
			}
		}
		return s.db.GetContext(ctx, &row, `SELECT `+workflowColumns+` FROM workflows WHERE id = $1`, id)
	})
	return row, changed, err
}
