package sqlite

import (
	"context"
	"fmt"
	"time"

	"github.com/jmoiron/sqlx"

	"github.com/dboslite/dboslite/store"
)

// dbNow is the database's clock in Unix milliseconds. Every process on
// one SQLite file runs on one machine, so this is that machine's clock;
// leases compare only times it wrote.
const dbNow = `CAST(unixepoch('subsec') * 1000 AS INTEGER)`

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

// RegisterInstance implements store.Store.
func (s *Store) RegisterInstance(ctx context.Context, p store.InstanceParams) (store.Instance, error) {
	var row instanceRow
	err := s.w.do(ctx, nil, func(tx *sqlx.Tx) error {
		if err := tx.Get(&row, `INSERT INTO instances (id, executor_id, app_version, app_name, host, pid, process_start,
				started_at, heartbeat_at)
			VALUES (?, ?, ?, ?, ?, ?, ?, `+dbNow+`, `+dbNow+`) RETURNING `+instanceColumns,
			p.ID, p.ExecutorID, p.ApplicationVersion, p.ApplicationName, p.Host, p.PID, p.ProcessStart); err != nil {
			return err
		}
		if len(p.Workflows) == 0 {
			return nil
		}
		_, err := tx.Exec(`INSERT INTO workflow_names (name) SELECT value FROM json_each(?) WHERE true
			ON CONFLICT (name) DO NOTHING`, jsonList(p.Workflows))
		return err
	})
	if err != nil {
		return store.Instance{}, fmt.Errorf("register instance %s: %w", p.ID, translate(err))
	}
	return row.toStore(), nil
}

// Heartbeat implements store.Store.
func (s *Store) Heartbeat(ctx context.Context, id string) error {
	err := s.w.doPrepared(ctx, nil, func(tx *wtx) error {
		res, err := tx.Exec(`UPDATE instances SET heartbeat_at = `+dbNow+` WHERE id = ? AND dead = 0`, id)
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
	if err := s.reader.SelectContext(ctx, &rows, `SELECT `+instanceColumns+` FROM instances WHERE dead = 0
		ORDER BY started_at, id`); err != nil {
		return nil, fmt.Errorf("list instances: %w", translate(err))
	}
	out := make([]store.Instance, len(rows))
	for i, r := range rows {
		out[i] = r.toStore()
	}
	return out, nil
}

// ExpireInstances implements store.Store.
func (s *Store) ExpireInstances(ctx context.Context, lease time.Duration) ([]string, error) {
	var ids []string
	err := s.w.doPrepared(ctx, nil, func(tx *wtx) error {
		ids = ids[:0]
		return tx.Select(&ids, `UPDATE instances SET dead = 1 WHERE dead = 0 AND heartbeat_at < `+dbNow+` - ?
			RETURNING id`, lease.Milliseconds())
	})
	if err != nil {
		return nil, fmt.Errorf("expire instances: %w", translate(err))
	}
	return ids, nil
}

// StopInstance implements store.Store.
func (s *Store) StopInstance(ctx context.Context, id string) error {
	err := s.w.do(ctx, nil, func(tx *sqlx.Tx) error {
		_, err := tx.Exec(`UPDATE instances SET dead = 1 WHERE id = ?`, id)
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
// The dead are forgotten whatever the query finds: some orphans stay
// orphans for good (a version or a name no live engine runs), and the
// dead would pile up behind them.
func (s *Store) Orphans(ctx context.Context, p store.OrphanParams) ([]store.Workflow, error) {
	var rows []workflowRow
	q := `SELECT ` + workflowColumns + ` FROM workflows WHERE status = 'PENDING'
		AND owner IN (SELECT '' UNION ALL SELECT id FROM instances WHERE dead = 1) ORDER BY created_at, id`
	if p.Limit > 0 {
		q += fmt.Sprintf(" LIMIT %d", p.Limit)
	}
	if err := s.reader.SelectContext(ctx, &rows, q); err != nil {
		return nil, fmt.Errorf("list orphaned workflows: %w", translate(err))
	}
	if err := s.forgetDead(ctx); err != nil {
		return nil, err
	}
	out := make([]store.Workflow, len(rows))
	for i, r := range rows {
		out[i] = r.toStore()
	}
	return out, nil
}

// forgetDead deletes dead instances that own no PENDING workflow, when
// there are any: it looks on a reader first, so that dead instances kept
// by their orphans cost no write on every call. A read-only store leaves
// them.
func (s *Store) forgetDead(ctx context.Context) error {
	if s.readOnly {
		return nil // the dead stay, for a store that may write to forget
	}
	const forgettable = `dead = 1 AND NOT EXISTS
		(SELECT 1 FROM workflows WHERE status = 'PENDING' AND owner = instances.id)`
	var n int
	if err := s.reader.GetContext(ctx, &n, `SELECT count(*) FROM instances WHERE `+forgettable); err != nil || n == 0 {
		return translate(err)
	}
	err := s.w.do(ctx, nil, func(tx *sqlx.Tx) error {
		_, err := tx.Exec(`DELETE FROM instances WHERE ` + forgettable)
		return err
	})
	if err != nil {
		return fmt.Errorf("forget dead instances: %w", translate(err))
	}
	return nil
}

// KnownWorkflow implements store.Store.
func (s *Store) KnownWorkflow(ctx context.Context, name string) (bool, error) {
	var n int
	if err := s.reader.GetContext(ctx, &n, `SELECT count(*) FROM workflow_names WHERE name = ?`, name); err != nil {
		return false, fmt.Errorf("look up workflow name %q: %w", name, s.readErr(err))
	}
	return n > 0, nil
}
