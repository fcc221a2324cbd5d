package sqlite

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

// Send implements store.Store.
func (s *Store) Send(ctx context.Context, p store.SendParams) error {
	err := s.w.do(ctx, []string{store.KeyMessages(p.DestinationID, p.Topic)}, func(tx *sqlx.Tx) error {
		if err := exists(tx, p.DestinationID); err != nil {
			return err
		}
		if _, err := tx.Exec(`INSERT INTO messages (dest_id, topic, payload, idempotency_key, created_at)
			VALUES (?, ?, ?, ?, ?) ON CONFLICT DO NOTHING`,
			p.DestinationID, p.Topic, p.Payload, nullable(p.IdempotencyKey), millis(now(p.Now))); err != nil {
			return err
		}
		if p.Step != nil {
			return recordStep(tx, p.Owner, *p.Step)
		}
		return nil
	})
	if err != nil {
		return fmt.Errorf("send to %s: %w", p.DestinationID, translate(err))
	}
	return nil
}

// ConsumeMessage implements store.Store.
func (s *Store) ConsumeMessage(ctx context.Context, p store.ConsumeParams) ([]byte, bool, error) {
	if s.readOnly {
		return nil, false, fmt.Errorf("receive %q for %s: %w", p.Topic, p.WorkflowID, store.ErrReadOnly)
	}
	// A waiter checks after every wake-up, most of them for other
	// workflows' writes: look on a reader first, and take the write lock
	// only when there is a message to take.
	var waiting int
	if err := s.reader.GetContext(ctx, &waiting, `SELECT EXISTS (SELECT 1 FROM messages
		WHERE dest_id = ? AND topic = ? AND consumed = 0)`, p.WorkflowID, p.Topic); err != nil {
		return nil, false, fmt.Errorf("receive %q for %s: %w", p.Topic, p.WorkflowID, s.readErr(err))
	}
	if waiting == 0 {
		return nil, false, nil
	}
	var payload []byte
	var found bool
	err := s.w.do(ctx, nil, func(tx *sqlx.Tx) error {
		payload, found = nil, false // a run again after a rollback starts afresh
		var m struct {
			Seq     int64  `db:"seq"`
			Payload []byte `db:"payload"`
		}
		err := tx.Get(&m, `SELECT seq, payload FROM messages WHERE dest_id = ? AND topic = ? AND consumed = 0
			ORDER BY seq LIMIT 1`, p.WorkflowID, p.Topic)
		if errors.Is(err, sql.ErrNoRows) {
			return nil
		}
		if err != nil {
			return err
		}
		if _, err := tx.Exec(`UPDATE messages SET consumed = 1 WHERE seq = ?`, m.Seq); err != nil {
			return err
		}
		step := p.Step
		step.Output = m.Payload
		if step.Output == nil {
			step.Output = []byte{}
		}
		if err := recordStep(tx, p.Owner, step); err != nil {
			return err
		}
		payload, found = step.Output, true
		return nil
	})
	if err != nil {
		return nil, false, fmt.Errorf("receive %q for %s: %w", p.Topic, p.WorkflowID, translate(err))
	}
	return payload, found, nil
}

// SetEvent implements store.Store.
func (s *Store) SetEvent(ctx context.Context, p store.EventParams) error {
	err := s.w.do(ctx, []string{store.KeyEvent(p.WorkflowID, p.Key)}, func(tx *sqlx.Tx) error {
		if err := exists(tx, p.WorkflowID); err != nil {
			return err
		}
		t := millis(now(p.Now))
		if _, err := tx.Exec(`INSERT INTO events (workflow_id, key, value, updated_at) VALUES (?, ?, ?, ?)
			ON CONFLICT (workflow_id, key) DO UPDATE SET value = excluded.value, updated_at = excluded.updated_at`,
			p.WorkflowID, p.Key, p.Value, t); err != nil {
			return err
		}
		if p.Step == nil {
			return nil
		}
		if _, err := tx.Exec(`INSERT INTO event_history (workflow_id, step_id, key, value, created_at)
			VALUES (?, ?, ?, ?, ?) ON CONFLICT DO NOTHING`, p.WorkflowID, p.Step.StepID, p.Key, p.Value, t); err != nil {
			return err
		}
		return recordStep(tx, p.Owner, *p.Step)
	})
	if err != nil {
		return fmt.Errorf("set event %q of %s: %w", p.Key, p.WorkflowID, translate(err))
	}
	return nil
}

// GetEvent implements store.Store.
func (s *Store) GetEvent(ctx context.Context, workflowID, key string) ([]byte, bool, error) {
	var v []byte
	err := s.reader.GetContext(ctx, &v, `SELECT value FROM events WHERE workflow_id = ? AND key = ?`, workflowID, key)
	if errors.Is(err, sql.ErrNoRows) {
		return nil, false, nil
	}
	if err != nil {
		return nil, false, fmt.Errorf("get event %q of %s: %w", key, workflowID, s.readErr(err))
	}
	return v, true, nil
}

// WriteStream implements store.Store.
func (s *Store) WriteStream(ctx context.Context, p store.StreamWrite) error {
	err := s.w.do(ctx, []string{store.KeyStream(p.WorkflowID, p.Key)}, func(tx *sqlx.Tx) error {
		if err := exists(tx, p.WorkflowID); err != nil {
			return err
		}
		if p.Step != nil {
			// A replayed write is recorded already: write nothing twice.
			var n int
			if err := tx.Get(&n, `SELECT count(*) FROM steps WHERE workflow_id = ? AND step_id = ?`,
				p.WorkflowID, p.Step.StepID); err != nil {
				return err
			}
			if n > 0 {
				return recordStep(tx, p.Owner, *p.Step)
			}
		}
		var last struct {
			Offset sql.NullInt64 `db:"o"`
			Closed sql.NullInt64 `db:"c"`
		}
		if err := tx.Get(&last, `SELECT max(pos) AS o, max(closed) AS c FROM streams WHERE workflow_id = ? AND key = ?`,
			p.WorkflowID, p.Key); err != nil {
			return err
		}
		if last.Closed.Int64 == 1 {
			return store.ErrStreamClosed
		}
		next := int64(0)
		if last.Offset.Valid {
			next = last.Offset.Int64 + 1
		}
		var value []byte
		if !p.Close {
			value = p.Value
		}
		var stepID sql.NullInt64 // NULL when written from inside a step
		if p.Step != nil {
			stepID = sql.NullInt64{Int64: int64(p.Step.StepID), Valid: true}
		}
		if _, err := tx.Exec(`INSERT INTO streams (workflow_id, key, pos, value, closed, created_at, step_id)
			VALUES (?, ?, ?, ?, ?, ?, ?)`,
			p.WorkflowID, p.Key, next, value, p.Close, millis(now(p.Now)), stepID); err != nil {
			return err
		}
		if p.Step != nil {
			return recordStep(tx, p.Owner, *p.Step)
		}
		return nil
	})
	if err != nil {
		return fmt.Errorf("write stream %q of %s: %w", p.Key, p.WorkflowID, translate(err))
	}
	return nil
}

// ReadStream implements store.Store.
func (s *Store) ReadStream(ctx context.Context, workflowID, key string, from int) ([]store.StreamEntry, bool, error) {
	var rows []struct {
		Offset int    `db:"pos"`
		Value  []byte `db:"value"`
		Closed bool   `db:"closed"`
	}
	if err := s.reader.SelectContext(ctx, &rows, `SELECT pos, value, closed FROM streams
		WHERE workflow_id = ? AND key = ? AND pos >= ? ORDER BY pos`, workflowID, key, from); err != nil {
		return nil, false, fmt.Errorf("read stream %q of %s: %w", key, workflowID, s.readErr(err))
	}
	out := make([]store.StreamEntry, 0, len(rows))
	for _, r := range rows {
		if r.Closed {
			return out, true, nil
		}
		out = append(out, store.StreamEntry{Offset: r.Offset, Value: r.Value})
	}
	return out, false, nil
}
