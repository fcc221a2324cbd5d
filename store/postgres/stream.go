package postgres

import (
	"context"
	"database/sql"
	"errors"
	"fmt"

	"github.com/jmoiron/sqlx"

	"github.com/dboslite/dboslite/store"
)

// maxAppendTries bounds how often an append looks for a free offset. Each
// failed try means another writer took the offset, so the stream moved on.
const maxAppendTries = 100

var errContended = errors.New("postgres: the stream's next offset was taken on every try")

// WriteStream implements store.Store. The next offset is decided by the
// stream's primary key: the write inserts at the last offset plus one,
// and if another writer took it meanwhile, inserts nothing (ON CONFLICT
// DO NOTHING: the transaction goes on) and tries the offset after.
func (s *Store) WriteStream(ctx context.Context, p store.StreamWrite) error {
	key := store.KeyStream(p.WorkflowID, p.Key)
	err := s.retry(ctx, once, func() error {
		return s.inTx(ctx, func(tx *sqlx.Tx) error {
			if err := exists(ctx, tx, p.WorkflowID); err != nil {
				return err
			}
			if p.Step != nil {
				// A replayed write is recorded already: write nothing twice.
				var recorded bool
				if err := tx.GetContext(ctx, &recorded, `SELECT EXISTS (SELECT 1 FROM steps
					WHERE workflow_id = $1 AND step_id = $2)`, p.WorkflowID, p.Step.StepID); err != nil {
					return err
				}
				if recorded {
					return recordStep(ctx, tx, p.Owner, *p.Step)
				}
			}
			if err := appendStream(ctx, tx, p); err != nil {
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
		return fmt.Errorf("write stream %q of %s: %w", p.Key, p.WorkflowID, translate(err))
	}
	s.wake(key)
	return nil
}

// appendStream inserts p's value, or the closing row, at the stream's
// next offset, unless the stream is closed.
func appendStream(ctx context.Context, tx *sqlx.Tx, p store.StreamWrite) error {
	var value []byte
	if !p.Close {
		value = p.Value
	}
	var stepID sql.NullInt64 // NULL when written from inside a step
	if p.Step != nil {
		stepID = sql.NullInt64{Int64: int64(p.Step.StepID), Valid: true}
	}
	for range maxAppendTries {
		var pos []int
		if err := tx.SelectContext(ctx, &pos, `INSERT INTO streams (workflow_id, key, pos, value, closed, created_at, step_id)
			SELECT $1::text, $2::text, coalesce(max(pos) + 1, 0), $3::bytea, $4::boolean, coalesce($5::bigint, `+dbNow+`),
				$6::integer
			FROM streams WHERE workflow_id = $1 AND key = $2
			HAVING NOT coalesce(bool_or(closed), false)
			ON CONFLICT DO NOTHING RETURNING pos`,
			p.WorkflowID, p.Key, value, p.Close, nowArg(p.Now), stepID); err != nil {
			return err
		}
		if len(pos) == 1 {
			return nil
		}
		var closed bool
		if err := tx.GetContext(ctx, &closed, `SELECT EXISTS (SELECT 1 FROM streams
			WHERE workflow_id = $1 AND key = $2 AND closed)`, p.WorkflowID, p.Key); err != nil {
			return err
		}
		if closed {
			return store.ErrStreamClosed
		}
	}
	return errContended
}

// ReadStream implements store.Store.
func (s *Store) ReadStream(ctx context.Context, workflowID, key string, from int) ([]store.StreamEntry, bool, error) {
	var rows []struct {
		Offset int    `db:"pos"`
		Value  []byte `db:"value"`
		Closed bool   `db:"closed"`
	}
	err := s.retry(ctx, read, func() error {
		rows = rows[:0]
		return s.db.SelectContext(ctx, &rows, `SELECT pos, value, closed FROM streams
			WHERE workflow_id = $1 AND key = $2 AND pos >= $3 ORDER BY pos`, workflowID, key, from)
	})
	if err != nil {
		return nil, false, fmt.Errorf("read stream %q of %s: %w", key, workflowID, translate(err))
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
