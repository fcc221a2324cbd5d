package sqlite

import (
	"context"
	"database/sql"
	"errors"
	"fmt"
	"strconv"
	"time"

	"github.com/jmoiron/sqlx"

	"github.com/dboslite/dboslite/store"
)

// workflowRow is a workflows row as scanned; toStore converts it.
type workflowRow struct {
	Seq              int64  `db:"seq"` // the rowid: see Position
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
	workflowColumns = `rowid AS seq, id, name, status, input, output, error, ` + restColumns
	listColumns     = `rowid AS seq, id, name, status, NULL AS input, NULL AS output, error, ` + restColumns
	restColumns     = `executor_id, owner, app_version, app_name,
	parent_id, queue_name, recovery_attempts, deadline_at, timeout_ms, priority, dedup_id, partition_key,
	not_before, started_at, created_at, updated_at, completed_at, trace_context`
)

// nextRowid is the rowid of a new workflow: past every rowid the table
// holds and every one it held (see migration 0006), so a listing paged
// by rowid never misses a row inserted behind it.
const nextRowid = `max(coalesce((SELECT max(rowid) FROM workflows), 0), (SELECT max_deleted FROM rowid_floor)) + 1`

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
		Position:           strconv.FormatInt(r.Seq, 10),
	}
}

func millis(t time.Time) int64 {
	if t.IsZero() {
		return 0
	}
	return t.UnixMilli()
}

func fromMillis(ms int64) time.Time {
	if ms == 0 {
		return time.Time{}
	}
	return time.UnixMilli(ms)
}

// nullString is s, or NULL if it is empty.
func nullString(s string) sql.NullString { return sql.NullString{String: s, Valid: s != ""} }

func now(t time.Time) time.Time {
	if t.IsZero() {
		return time.Now()
	}
	return t
}

// CreateWorkflow implements store.Store.
func (s *Store) CreateWorkflow(ctx context.Context, p store.WorkflowCreateParams) (store.Workflow, bool, error) {
	var row workflowRow
	var created bool
	err := s.w.doPrepared(ctx, []string{store.KeyWorkflow(p.ID)}, func(tx *wtx) error {
		t := millis(now(p.Now))
		// One statement: the owner must be a live instance (see live).
		res, err := tx.Exec(`INSERT INTO workflows (rowid, id, name, status, input, executor_id, owner, app_version, app_name,
				parent_id, recovery_attempts, deadline_at, created_at, updated_at, trace_context)
			SELECT `+nextRowid+`, ?, ?, ?, ?, ?, ?, ?, ?, ?, 1, ?, ?, ?, ?
			WHERE ? = '' OR EXISTS (SELECT 1 FROM instances WHERE id = ? AND dead = 0)
			ON CONFLICT (id) DO NOTHING`,
			p.ID, p.Name, store.StatusPending, p.Input, p.ExecutorID, p.Owner, p.ApplicationVersion, p.ApplicationName,
			p.ParentID, millis(p.Deadline), t, t, nullString(p.TraceContext), p.Owner, p.Owner)
		if err != nil {
			return err
		}
		n, err := res.RowsAffected()
		if err != nil {
			return err
		}
		created = n == 1
		if created {
			seq, err := res.LastInsertId()
			if err != nil {
				return err
			}
			row = workflowRow{Seq: seq, ID: p.ID, Name: p.Name, Status: string(store.StatusPending), Input: p.Input,
				ExecutorID: p.ExecutorID, Owner: p.Owner, AppVersion: p.ApplicationVersion, AppName: p.ApplicationName,
				ParentID: p.ParentID, RecoveryAttempts: 1, DeadlineAt: millis(p.Deadline), CreatedAt: t, UpdatedAt: t,
				TraceContext: nullString(p.TraceContext)}
			return nil
		}
		if err := getWorkflow(tx, p.ID, &row); !errors.Is(err, store.ErrNotFound) {
			return err
		}
		return live(tx, p.Owner) // not inserted, and no such row: the owner is not live
	})
	if err != nil {
		return store.Workflow{}, false, fmt.Errorf("create workflow %s: %w", p.ID, translate(err))
	}
	return row.toStore(), created, nil
}

// live returns store.ErrInstanceLost unless owner is empty or a live
// instance: a dead instance is given no workflow, so none of its
// workflows escapes adoption.
func live(tx txer, owner string) error {
	if owner == "" {
		return nil
	}
	var dead bool
	err := tx.Get(&dead, `SELECT dead FROM instances WHERE id = ?`, owner)
	if err != nil && !errors.Is(err, sql.ErrNoRows) {
		return err
	}
	if err != nil || dead {
		return store.ErrInstanceLost
	}
	return nil
}

func getWorkflow(q sqlx.Queryer, id string, row *workflowRow) error {
	return translate(sqlx.Get(q, row, `SELECT `+workflowColumns+` FROM workflows WHERE id = ?`, id))
}

// GetWorkflow implements store.Store.
func (s *Store) GetWorkflow(ctx context.Context, id string) (store.Workflow, error) {
	var row workflowRow
	if err := s.readErr(s.reader.GetContext(ctx, &row, `SELECT `+workflowColumns+` FROM workflows WHERE id = ?`, id)); err != nil {
		return store.Workflow{}, fmt.Errorf("get workflow %s: %w", id, err)
	}
	return row.toStore(), nil
}

// SetOutcome implements store.Store.
func (s *Store) SetOutcome(ctx context.Context, p store.OutcomeParams) (bool, error) {
	if p.Status != store.StatusSuccess && p.Status != store.StatusError {
		return false, fmt.Errorf("set outcome of %s: status %s is not an outcome", p.WorkflowID, p.Status)
	}
	var updated bool
	keys := []string{store.KeyWorkflow(p.WorkflowID)}
	err := s.w.doPrepared(ctx, keys, func(tx *wtx) error {
		t := millis(now(p.Now))
		var queues []string
		if err := tx.Select(&queues, `UPDATE workflows SET status = ?, output = ?, error = ?, completed_at = ?, updated_at = ?
			WHERE id = ? AND status = 'PENDING' AND (? = '' OR owner = ? AND EXISTS
				(SELECT 1 FROM instances WHERE id = ? AND dead = 0)) RETURNING queue_name`,
			p.Status, p.Output, p.Error, t, t, p.WorkflowID, p.Owner, p.Owner, p.Owner); err != nil {
			return err
		}
		if updated = len(queues) == 1; updated {
			if queues[0] != "" {
				tx.notify(store.KeyQueue(queues[0])) // a slot is free
			}
			return nil
		}
		var status string
		if err := tx.Get(&status, `SELECT status FROM workflows WHERE id = ?`, p.WorkflowID); err != nil {
			return err
		}
		if status == string(store.StatusPending) {
			return store.ErrNotOwner
		}
		return nil
	})
	if err != nil {
		return false, fmt.Errorf("set outcome of %s: %w", p.WorkflowID, translate(err))
	}
	return updated, nil
}

// exists returns store.ErrNotFound unless a workflow has this ID.
func exists(tx txer, id string) error {
	var n int
	if err := tx.Get(&n, `SELECT count(*) FROM workflows WHERE id = ?`, id); err != nil {
		return err
	}
	if n == 0 {
		return store.ErrNotFound
	}
	return nil
}

// RecoverWorkflow implements store.Store.
func (s *Store) RecoverWorkflow(ctx context.Context, p store.RecoverParams) (store.Workflow, error) {
	var row workflowRow
	err := s.w.do(ctx, []string{store.KeyWorkflow(p.WorkflowID)}, func(tx *sqlx.Tx) error {
		if err := live(tx, p.Owner); err != nil {
			return err
		}
		t := millis(now(p.Now))
		maxAttempts := int64(p.MaxAttempts) + 1
		if p.MaxAttempts < 0 {
			maxAttempts = -1
		}
		if _, err := tx.Exec(`UPDATE workflows SET recovery_attempts = recovery_attempts + 1, executor_id = ?, owner = ?,
				updated_at = ?,
				status = CASE WHEN ? >= 0 AND recovery_attempts + 1 > ? THEN ? ELSE status END,
				completed_at = CASE WHEN ? >= 0 AND recovery_attempts + 1 > ? THEN ? ELSE completed_at END
			WHERE id = ? AND status = 'PENDING' AND owner = ? AND (? = '' OR app_version IN (?, ''))`,
			p.ExecutorID, p.Owner, t, maxAttempts, maxAttempts, store.StatusMaxRecoveryAttemptsExceeded,
			maxAttempts, maxAttempts, t, p.WorkflowID, p.From, p.ApplicationVersion, p.ApplicationVersion); err != nil {
			return err
		}
		return getWorkflow(tx, p.WorkflowID, &row)
	})
	if err != nil {
		return store.Workflow{}, fmt.Errorf("recover workflow %s: %w", p.WorkflowID, translate(err))
	}
	return row.toStore(), nil
}

// CancelWorkflow implements store.Store.
func (s *Store) CancelWorkflow(ctx context.Context, p store.CancelParams) (store.Workflow, error) {
	var row workflowRow
	err := s.w.doPrepared(ctx, []string{store.KeyWorkflow(p.WorkflowID)}, func(tx *wtx) error {
		t := millis(now(p.Now))
		if _, err := tx.Exec(`UPDATE workflows SET status = ?, error = ?, completed_at = ?, updated_at = ?
			WHERE id = ? AND status NOT IN (?, ?, ?)`, store.StatusCancelled, p.Reason, t, t, p.WorkflowID,
			store.StatusSuccess, store.StatusError, store.StatusCancelled); err != nil {
			return err
		}
		if err := getWorkflow(tx, p.WorkflowID, &row); err != nil {
			return err
		}
		if row.Status == string(store.StatusCancelled) {
			if row.QueueName != "" {
				tx.notify(store.KeyQueue(row.QueueName)) // a slot may be free
			}
			if row.Owner != "" {
				tx.notify(store.KeyCancelled(row.Owner))
			}
		}
		return nil
	})
	if err != nil {
		return store.Workflow{}, fmt.Errorf("cancel workflow %s: %w", p.WorkflowID, translate(err))
	}
	return row.toStore(), nil
}
