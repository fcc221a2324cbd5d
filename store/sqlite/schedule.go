package sqlite

import (
	"context"
	"database/sql"
	"errors"
	"fmt"
	"time"

	"github.com/jmoiron/sqlx"

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

// CreateSchedule implements store.Store.
func (s *Store) CreateSchedule(ctx context.Context, p store.ScheduleParams) (store.Schedule, bool, error) {
	var row scheduleRow
	var created bool
	err := s.w.do(ctx, []string{store.KeySchedules()}, func(tx *sqlx.Tx) error {
		t := millis(now(p.Now))
		res, err := tx.Exec(`INSERT INTO schedules (name, workflow_name, spec, zone, created_at, updated_at)
			VALUES (?, ?, ?, ?, ?, ?) ON CONFLICT (name) DO NOTHING`, p.Name, p.Workflow, p.Spec, p.Zone, t, t)
		if err != nil {
			return err
		}
		n, err := res.RowsAffected()
		if err != nil {
			return err
		}
		created = n == 1
		if !created && p.Replace {
			if _, err := tx.Exec(`UPDATE schedules SET workflow_name = ?, spec = ?, zone = ?, updated_at = ?
				WHERE name = ? AND (workflow_name, spec, zone) != (?, ?, ?)`,
				p.Workflow, p.Spec, p.Zone, t, p.Name, p.Workflow, p.Spec, p.Zone); err != nil {
				return err
			}
		}
		return tx.Get(&row, `SELECT `+scheduleColumns+` FROM schedules WHERE name = ?`, p.Name)
	})
	if err != nil {
		return store.Schedule{}, false, fmt.Errorf("create schedule %q: %w", p.Name, translate(err))
	}
	return row.toStore(), created, nil
}

// GetSchedule implements store.Store.
func (s *Store) GetSchedule(ctx context.Context, name string) (store.Schedule, error) {
	var row scheduleRow
	err := s.reader.GetContext(ctx, &row, `SELECT `+scheduleColumns+` FROM schedules WHERE name = ?`, name)
	if err != nil {
		return store.Schedule{}, fmt.Errorf("get schedule %q: %w", name, s.scheduleReadErr(err))
	}
	return row.toStore(), nil
}

// ListSchedules implements store.Store.
func (s *Store) ListSchedules(ctx context.Context) ([]store.Schedule, error) {
	var rows []scheduleRow
	if err := s.reader.SelectContext(ctx, &rows, `SELECT `+scheduleColumns+` FROM schedules ORDER BY name`); err != nil {
		return nil, fmt.Errorf("list schedules: %w", s.readErr(err))
	}
	out := make([]store.Schedule, len(rows))
	for i, r := range rows {
		out[i] = r.toStore()
	}
	return out, nil
}

// PauseSchedule implements store.Store.
func (s *Store) PauseSchedule(ctx context.Context, p store.SchedulePauseParams) (store.Schedule, error) {
	var row scheduleRow
	err := s.w.do(ctx, []string{store.KeySchedules()}, func(tx *sqlx.Tx) error {
		t := millis(now(p.Now))
		if _, err := tx.Exec(`UPDATE schedules SET paused = ?, updated_at = ?,
				done_through = CASE WHEN ? THEN done_through ELSE max(done_through, ?) END
			WHERE name = ? AND paused != ?`, p.Paused, t, p.Paused, t, p.Name, p.Paused); err != nil {
			return err
		}
		return tx.Get(&row, `SELECT `+scheduleColumns+` FROM schedules WHERE name = ?`, p.Name)
	})
	if err != nil {
		return store.Schedule{}, fmt.Errorf("pause schedule %q: %w", p.Name, scheduleErr(err))
	}
	return row.toStore(), nil
}

// DeleteSchedule implements store.Store.
func (s *Store) DeleteSchedule(ctx context.Context, name string) error {
	err := s.w.do(ctx, []string{store.KeySchedules()}, func(tx *sqlx.Tx) error {
		res, err := tx.Exec(`DELETE FROM schedules WHERE name = ?`, name)
		if err != nil {
			return err
		}
		if n, err := res.RowsAffected(); err != nil || n == 1 {
			return err
		}
		return sql.ErrNoRows
	})
	if err != nil {
		return fmt.Errorf("delete schedule %q: %w", name, scheduleErr(err))
	}
	return nil
}

// AdvanceSchedule implements store.Store. It wakes nothing: no process
// waits for it.
func (s *Store) AdvanceSchedule(ctx context.Context, name string, tick time.Time) error {
	err := s.w.do(ctx, nil, func(tx *sqlx.Tx) error {
		_, err := tx.Exec(`UPDATE schedules SET done_through = ? WHERE name = ? AND done_through < ?`,
			millis(tick), name, millis(tick))
		return err
	})
	if err != nil {
		return fmt.Errorf("advance schedule %q: %w", name, translate(err))
	}
	return nil
}

// scheduleReadErr is scheduleErr for a read on the reader pool.
func (s *Store) scheduleReadErr(err error) error {
	if errors.Is(err, sql.ErrNoRows) {
		return store.ErrScheduleNotFound
	}
	return s.readErr(err)
}
