package postgres

import (
	"context"
	"fmt"
	"strconv"
	"time"

	"github.com/jmoiron/sqlx"

	"github.com/dboslite/dboslite/store"
)

// Heartbeats and leases are the database server's clock (dbNow), always:
// every machine that shares the database compares them.

type instanceRow struct {
	ID           string `db:"id"`
	ExecutorID   string `db:"executor_id"`
	AppVersion   string `db:"app_version"`
	AppName      string `db:"app_name"`
	Host         string `db:"host"`
	PID          int    `db:"pid"`
	ProcessStart string `db:"process_start"`
	StartedAt    int64  `db:"started_at"`
	HeartbeatAt  int64  `db:"heartbeat_at"`
	Dead         bool   `db:"dead"`
}

const instanceColumns = `id, executor_id, app_version, app_name, host, pid, process_start, started_at, heartbeat_at, dead`

func (r instanceRow) toStore() store.Instance {
	return store.Instance{
		ID: r.ID, ExecutorID: r.ExecutorID, ApplicationVersion: r.AppVersion, ApplicationName: r.AppName,
		Host: r.Host, PID: r.PID, ProcessStart: r.ProcessStart,
		StartedAt: fromMillis(r.StartedAt), HeartbeatAt: fromMillis(r.HeartbeatAt), Dead: r.Dead,
	}
}

// RegisterInstance implements store.Store. A second insert of the ID
// would fail, so a registration whose commit failed is not tried again.
func (s *Store) RegisterInstance(ctx context.Context, p store.InstanceParams) (store.Instance, error) {
	var row instanceRow
	err := s.retry(ctx, once, func() error {
		return committing(s.db.GetContext(ctx, &row, `WITH ins AS (
				INSERT INTO instances (id, executor_id, app_version, app_name, host, pid, process_start, started_at,
					heartbeat_at)
				VALUES ($1, $2, $3, $4, $5, $6, $7, `+dbNow+`, `+dbNow+`) RETURNING `+instanceColumns+`),
			names AS (INSERT INTO workflow_names (name) SELECT unnest($8::text[]) ON CONFLICT (name) DO NOTHING)
			SELECT * FROM ins`,
			p.ID, p.ExecutorID, p.ApplicationVersion, p.ApplicationName, p.Host, p.PID, p.ProcessStart, p.Workflows))
	})
	if err != nil {
		return store.Instance{}, fmt.Errorf("register instance %s: %w", p.ID, translate(err))
	}
	return row.toStore(), nil
}

// Heartbeat implements store.Store.
func (s *Store) Heartbeat(ctx context.Context, id string) error {
	err := s.retry(ctx, idempotent, func() error {
		res, err := s.db.ExecContext(ctx, `UPDATE instances SET heartbeat_at = `+dbNow+` WHERE id = $1 AND NOT dead`, id)
		if err != nil {
			return err
		}
		if n, err := res.RowsAffected(); err != nil || n == 1 {
			return err
		}
		return store.ErrInstanceLost
	})
	if err != nil {
		return fmt.Errorf("heartbeat of instance %s: %w", id, translate(err))
	}
	return nil
}

// Instances implements store.Store.
func (s *Store) Instances(ctx context.Context) ([]store.Instance, error) {
	var rows []instanceRow
	err := s.retry(ctx, read, func() error {
		rows = rows[:0]
		return s.db.SelectContext(ctx, &rows, `SELECT `+instanceColumns+` FROM instances WHERE NOT dead
			ORDER BY started_at, id`)
	})
	if err != nil {
		return nil, fmt.Errorf("list instances: %w", translate(err))
	}
	out := make([]store.Instance, len(rows))
	for i, r := range rows {
		out[i] = r.toStore()
	}
	return out, nil
}

// ExpireInstances implements store.Store. It returns the instances this
// call declared dead, so one whose commit failed is not tried again: a
// second call would not return them.
func (s *Store) ExpireInstances(ctx context.Context, lease time.Duration) ([]string, error) {
	var ids []string
	err := s.retry(ctx, once, func() error {
		ids = ids[:0]
		return committing(s.db.SelectContext(ctx, &ids, `UPDATE instances SET dead = true
			WHERE NOT dead AND heartbeat_at < `+dbNow+` - $1 RETURNING id`, lease.Milliseconds()))
	})
	if err != nil {
		return nil, fmt.Errorf("expire instances: %w", translate(err))
	}
	return ids, nil
}

// StopInstance implements store.Store.
func (s *Store) StopInstance(ctx context.Context, id string) error {
	err := s.retry(ctx, idempotent, func() error {
		_, err := s.db.ExecContext(ctx, `UPDATE instances SET dead = true WHERE id = $1`, id)
		return err
	})
	if err != nil {
		return fmt.Errorf("stop instance %s: %w", id, translate(err))
	}
	return nil
}

// Orphans implements store.Store. Dead instances are few (they are
// forgotten once they own nothing), so the query looks up each one's
// PENDING rows in workflows_owner rather than scanning every PENDING row.
func (s *Store) Orphans(ctx context.Context, p store.OrphanParams) ([]store.Workflow, error) {
	q := `SELECT ` + workflowColumns + ` FROM workflows WHERE status = 'PENDING'
		AND owner IN (SELECT '' UNION ALL SELECT id FROM instances WHERE dead) ORDER BY created_at, id`
	if p.Limit > 0 {
		q += " LIMIT " + strconv.Itoa(p.Limit)
	}
	var rows []workflowRow
	err := s.retry(ctx, read, func() error {
		rows = rows[:0]
		return s.db.SelectContext(ctx, &rows, q)
	})
	if err != nil {
		return nil, fmt.Errorf("list orphaned workflows: %w", translate(err))
	}
	if len(rows) == 0 {
		if err := s.forgetDead(ctx); err != nil {
			return nil, err
		}
	}
	return toStore(rows), nil
}

// forgetDead deletes dead instances that own no PENDING workflow. It
// first locks the dead instances FOR UPDATE, which waits for every write
// still giving one of them a workflow (see liveSQL), and only then, in a
// statement that sees those writes, deletes the ones that own nothing. A
// read-only store leaves them.
func (s *Store) forgetDead(ctx context.Context) error {
	if s.readOnly {
		return nil // the dead stay, for a store that may write to forget
	}
	err := s.retry(ctx, idempotent, func() error {
		return s.inTx(ctx, func(tx *sqlx.Tx) error {
			var dead []string
			if err := tx.SelectContext(ctx, &dead, `SELECT id FROM instances WHERE dead ORDER BY id FOR UPDATE`); err != nil || len(dead) == 0 {
				return err
			}
			_, err := tx.ExecContext(ctx, `DELETE FROM instances WHERE dead AND NOT EXISTS
				(SELECT 1 FROM workflows WHERE status = 'PENDING' AND owner = instances.id)`)
			return err
		})
	})
	if err != nil {
		return fmt.Errorf("forget dead instances: %w", translate(err))
	}
	return nil
}

// KnownWorkflow implements store.Store.
func (s *Store) KnownWorkflow(ctx context.Context, name string) (bool, error) {
	var known bool
	err := s.retry(ctx, idempotent, func() error {
		return s.db.GetContext(ctx, &known, `SELECT EXISTS (SELECT 1 FROM workflow_names WHERE name = $1)`, name)
	})
	if err != nil {
		return false, fmt.Errorf("look up workflow name %q: %w", name, translate(err))
	}
	return known, nil
}
