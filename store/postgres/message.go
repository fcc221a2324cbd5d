package postgres

import (
	"context"
	"database/sql"
	"errors"
	"fmt"

	"github.com/jmoiron/sqlx"

	"github.com/dboslite/dboslite/store"
)

// nullable stores an empty idempotency key as NULL, outside the unique index.
func nullable(s string) sql.NullString { return sql.NullString{String: s, Valid: s != ""} }

// exists returns store.ErrNotFound unless a workflow has this ID.
func exists(ctx context.Context, tx *sqlx.Tx, id string) error {
	var ok bool
	if err := tx.GetContext(ctx, &ok, `SELECT EXISTS (SELECT 1 FROM workflows WHERE id = $1)`, id); err != nil {
		return err
	}
	if !ok {
		return store.ErrNotFound
	}
	return nil
}

// Send implements store.Store. A send with an idempotency key is tried
// again after a failed commit, as it stores nothing the second time;
// one without is not.
func (s *Store) Send(ctx context.Context, p store.SendParams) error {
	k := once
	if p.IdempotencyKey != "" {
		k = idempotent
	}
	key := store.KeyMessages(p.DestinationID, p.Topic)
	err := s.retry(ctx, k, func() error {
		return s.inTx(ctx, func(tx *sqlx.Tx) error {
			if err := exists(ctx, tx, p.DestinationID); err != nil {
				return err
			}
			if _, err := tx.ExecContext(ctx, `INSERT INTO messages (dest_id, topic, payload, idempotency_key, created_at)
				VALUES ($1, $2, $3, $4, coalesce($5::bigint, `+dbNow+`)) ON CONFLICT DO NOTHING`,
				p.DestinationID, p.Topic, p.Payload, nullable(p.IdempotencyKey), nowArg(p.Now)); err != nil {
				return err
			}
			if p.Step != nil {
				if err := recordStep(ctx, tx, p.Owner, *p.Step); err != nil {
					return err
				}
			}
			return nil
		})
	})
	if err != nil {
		return fmt.Errorf("send to %s: %w", p.DestinationID, translate(err))
	}
	s.wake(key)
	return nil
}

// ConsumeMessage implements store.Store. The oldest message is taken FOR
// UPDATE SKIP LOCKED: of several consumers, each takes another message,
// and none waits for another's transaction.
func (s *Store) ConsumeMessage(ctx context.Context, p store.ConsumeParams) ([]byte, bool, error) {
	if s.readOnly {
		return nil, false, wrapReceive(p, store.ErrReadOnly)
	}
	// A waiter checks after every wake-up: look first, and open a
	// transaction only when there is a message to take.
	var waiting bool
	err := s.retry(ctx, read, func() error {
		return s.db.GetContext(ctx, &waiting, `SELECT EXISTS (SELECT 1 FROM messages
			WHERE dest_id = $1 AND topic = $2 AND NOT consumed)`, p.WorkflowID, p.Topic)
	})
	if err != nil || !waiting {
		return nil, false, wrapReceive(p, err)
	}
	var payload []byte
	var found bool
	err = s.retry(ctx, once, func() error {
		payload, found = nil, false
		return s.inTx(ctx, func(tx *sqlx.Tx) error {
			var m struct {
				Seq     int64  `db:"seq"`
				Payload []byte `db:"payload"`
			}
			err := tx.GetContext(ctx, &m, `SELECT seq, payload FROM messages WHERE dest_id = $1 AND topic = $2 AND NOT consumed
				ORDER BY seq LIMIT 1 FOR UPDATE SKIP LOCKED`, p.WorkflowID, p.Topic)
			if errors.Is(err, sql.ErrNoRows) {
				return nil
			}
			if err != nil {
				return err
			}
			if _, err := tx.ExecContext(ctx, `UPDATE messages SET consumed = true WHERE seq = $1`, m.Seq); err != nil {
				return err
			}
			step := p.Step
			step.Output = m.Payload
			if step.Output == nil {
				step.Output = []byte{}
			}
			if err := recordStep(ctx, tx, p.Owner, step); err != nil {
				return err
			}
			payload, found = step.Output, true
			return nil
		})
	})
	if err != nil {
		return nil, false, wrapReceive(p, err)
	}
	return payload, found, nil
}

func wrapReceive(p store.ConsumeParams, err error) error {
	if err == nil {
		return nil
	}
	return fmt.Errorf("receive %q for %s: %w", p.Topic, p.WorkflowID, translate(err))
}

// SetEvent implements store.Store.
func (s *Store) SetEvent(ctx context.Context, p store.EventParams) error {
	key := store.KeyEvent(p.WorkflowID, p.Key)
	err := s.retry(ctx, idempotent, func() error {
		return s.inTx(ctx, func(tx *sqlx.Tx) error {
			if err := exists(ctx, tx, p.WorkflowID); err != nil {
				return err
			}
			if _, err := tx.ExecContext(ctx, `INSERT INTO events (workflow_id, key, value, updated_at)
				VALUES ($1, $2, $3, coalesce($4::bigint, `+dbNow+`))
				ON CONFLICT (workflow_id, key) DO UPDATE SET value = excluded.value, updated_at = excluded.updated_at`,
				p.WorkflowID, p.Key, p.Value, nowArg(p.Now)); err != nil {
				return err
			}
			if p.Step != nil {
				if _, err := tx.ExecContext(ctx, `INSERT INTO event_history (workflow_id, step_id, key, value, created_at)
					VALUES ($1, $2, $3, $4, coalesce($5::bigint, `+dbNow+`)) ON CONFLICT DO NOTHING`,
					p.WorkflowID, p.Step.StepID, p.Key, p.Value, nowArg(p.Now)); err != nil {
					return err
				}
				if err := recordStep(ctx, tx, p.Owner, *p.Step); err != nil {
					return err
				}
			}
			return nil
		})
	})
	if err != nil {
		return fmt.Errorf("set event %q of %s: %w", p.Key, p.WorkflowID, translate(err))
	}
	s.wake(key)
	return nil
}

// GetEvent implements store.Store.
func (s *Store) GetEvent(ctx context.Context, workflowID, key string) ([]byte, bool, error) {
	var v []byte
	var found bool
	err := s.retry(ctx, read, func() error {
		err := s.db.GetContext(ctx, &v, `SELECT value FROM events WHERE workflow_id = $1 AND key = $2`, workflowID, key)
		found = err == nil
		if errors.Is(err, sql.ErrNoRows) {
			return nil
		}
		return err
	})
	if err != nil {
		return nil, false, fmt.Errorf("get event %q of %s: %w", key, workflowID, translate(err))
	}
	return v, found, nil
}
