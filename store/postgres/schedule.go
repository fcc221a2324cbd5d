package postgres

import (
	"context"
	"database/sql"
	"errors"
	"fmt"
	"time"

	"github.com/dboslite/dboslite/store"
)

type scheduleRow struct {
	Name        string `db:"name"`
	Workflow    string `db:"workflow_name"`
	Spec        string `db:"spec"`
	Zone        string `db:"zone"`
	Paused      bool   `db:"paused"`
	DoneThrough int64  `db:"done_through"`
	CreatedAt   int64  `db:"created_at"`
	UpdatedAt   int64  `db:"updated_at"`
	Created     bool   `db:"created"`
}

const scheduleColumns = `name, workflow_name, spec, zone, paused, done_through, created_at, updated_at`

func (r scheduleRow) toStore() store.Schedule {
	return store.Schedule{Name: r.Name, Workflow: r.Workflow, Spec: r.Spec, Zone: r.Zone, Paused: r.Paused,
		DoneThrough: fromMillis(r.DoneThrough), CreatedAt: fromMillis(r.CreatedAt), UpdatedAt: fromMillis(r.UpdatedAt)}
}

// scheduleErr translates the error of a schedule's statement: no row is
// store.ErrScheduleNotFound.
func scheduleErr(err error) error {
	if errors.Is(err, sql.ErrNoRows) {
		return store.ErrScheduleNotFound
	}
	return translate(err)
}

// CreateSchedule implements store.Store: one statement, which a second
// application changes nothing by (bar created, which a retry after an
// unknown commit may report false for the row it created).
func (s *Store) CreateSchedule(ctx context.Context, p store.ScheduleParams) (store.Schedule, bool, error) {
	var row scheduleRow
	err := s.retry(ctx, idempotent, func() error {
		// xmax = 0 tells an inserted row from an updated one.
		return committing(s.db.GetContext(ctx, &row, `INSERT INTO schedules AS s (name, workflow_name, spec, zone,
				created_at, updated_at)
			SELECT $1, $2, $3, $4, t.t, t.t FROM (SELECT coalesce($6::bigint, `+dbNow+`) AS t) AS t
			ON CONFLICT (name) DO UPDATE SET
				workflow_name = CASE WHEN $5 THEN excluded.workflow_name ELSE s.workflow_name END,
				spec = CASE WHEN $5 THEN excluded.spec ELSE s.spec END,
				zone = CASE WHEN $5 THEN excluded.zone ELSE s.zone END,
				updated_at = CASE WHEN $5 AND (s.workflow_name, s.spec, s.zone) <> (excluded.workflow_name, excluded.spec, excluded.zone)
					THEN excluded.updated_at ELSE s.updated_at END
			RETURNING `+scheduleColumns+`, xmax = 0 AS created`,
			p.Name, p.Workflow, p.Spec, p.Zone, p.Replace, nowArg(p.Now)))
	})
	if err != nil {
		return store.Schedule{}, false, fmt.Errorf("create schedule %q: %w", p.Name, translate(err))
	}
	s.wake(store.KeySchedules())
	return row.toStore(), row.Created, nil
}

// GetSchedule implements store.Store.
func (s *Store) GetSchedule(ctx context.Context, name string) (store.Schedule, error) {
	var row scheduleRow
	err := s.retry(ctx, read, func() error {
		return s.db.GetContext(ctx, &row, `SELECT `+scheduleColumns+` FROM schedules WHERE name = $1`, name)
	})
	if err != nil {
		return store.Schedule{}, fmt.Errorf("get schedule %q: %w", name, scheduleErr(err))
	}
	return row.toStore(), nil
}

// ListSchedules implements store.Store.
func (s *Store) ListSchedules(ctx context.Context) ([]store.Schedule, error) {
	var rows []scheduleRow
	err := s.retry(ctx, read, func() error {
		rows = rows[:0]
		return s.db.SelectContext(ctx, &rows, `SELECT `+scheduleColumns+` FROM schedules ORDER BY name`)
	})
	if err != nil {
		return nil, fmt.Errorf("list schedules: %w", translate(err))
	}
	out := make([]store.Schedule, len(rows))
	for i, r := range rows {
		out[i] = r.toStore()
	}
	return out, nil
}

// PauseSchedule implements store.Store: one statement, which changes
// nothing when applied twice.
func (s *Store) PauseSchedule(ctx context.Context, p store.SchedulePauseParams) (store.Schedule, error) {
	var row scheduleRow
	err := s.retry(ctx, idempotent, func() error {
		return committing(s.db.GetContext(ctx, &row, `WITH t AS (SELECT coalesce($3::bigint, `+dbNow+`) AS t),
			u AS (UPDATE schedules SET paused = $2, updated_at = t.t,
					done_through = CASE WHEN $2 THEN done_through ELSE greatest(done_through, t.t) END
				FROM t WHERE name = $1 AND paused <> $2
				RETURNING `+scheduleColumns+`)
			SELECT `+scheduleColumns+` FROM u
			UNION ALL
			SELECT `+scheduleColumns+` FROM schedules WHERE name = $1 AND NOT EXISTS (SELECT 1 FROM u)`,
			p.Name, p.Paused, nowArg(p.Now)))
	})
	if err != nil {
		return store.Schedule{}, fmt.Errorf("pause schedule %q: %w", p.Name, scheduleErr(err))
	}
	s.wake(store.KeySchedules())
	return row.toStore(), nil
}

// DeleteSchedule implements store.Store. A retry after an unknown commit
// may find the schedule gone and report ErrScheduleNotFound for the
// delete it made; that is the outcome asked for.
func (s *Store) DeleteSchedule(ctx context.Context, name string) error {
	var n int64
	err := s.retry(ctx, idempotent, func() error {
		res, err := s.db.ExecContext(ctx, `DELETE FROM schedules WHERE name = $1`, name)
		if err != nil {
			return committing(err)
		}
		n, err = res.RowsAffected()
		return err
	})
	if err != nil {
		return fmt.Errorf("delete schedule %q: %w", name, translate(err))
	}
	if n == 0 {
		return fmt.Errorf("delete schedule %q: %w", name, store.ErrScheduleNotFound)
	}
	s.wake(store.KeySchedules())
	return nil
}

// AdvanceSchedule implements store.Store. It wakes nothing: no process
// waits for it.
func (s *Store) AdvanceSchedule(ctx context.Context, name string, tick time.Time) error {
	err := s.retry(ctx, idempotent, func() error {
		_, err := s.db.ExecContext(ctx, `UPDATE schedules SET done_through = $2 WHERE name = $1 AND done_through < $2`,
			name, millis(tick))
		return committing(err)
	})
	if err != nil {
		return fmt.Errorf("advance schedule %q: %w", name, translate(err))
	}
	return nil
}
