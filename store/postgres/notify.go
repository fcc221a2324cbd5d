package postgres

import (
	"context"
	"strconv"

	"github.com/jmoiron/sqlx"
)

// Every write that wakes watchers (see the Key functions of package store)
// notifies its keys on the schema's channel inside its own transaction:
// one pg_notify per key, the key as payload. PostgreSQL delivers a
// transaction's notifications when, and only when, it commits, drops
// none of them, and folds duplicates of one transaction into one. Each
// process's listener (listen.go) wakes its watchers of each key it
// receives; the process that committed wakes its own at once as well.

// maxPayload is the longest key sent as its own payload: PostgreSQL
// refuses payloads of 8000 bytes or more. A longer key, which no sane ID
// makes, is sent as wakeAll.
const maxPayload = 7900

// wakeAll is the payload that wakes every watcher. No key is "*": each
// starts with a letter and a separator.
const wakeAll = "*"

// channel returns the notification channel of a schema: an identifier of
// at most 63 bytes, as ParseURL bounds the schema's name.
func channel(schema string) string { return "dboslite_" + schema }

// wakeSQL returns an SQL expression that notifies, on the store's
// channel, every key of the text[] expression keys that is not NULL, and
// evaluates to how many it notified. Put in the select list or RETURNING
// clause of a write, it notifies once per row written, in the write's
// own statement, which saves a round trip on the hot path.
func (s *Store) wakeSQL(keys string) string {
	return `(SELECT count(pg_notify('` + s.channel + `',
		CASE WHEN octet_length(k) <= ` + strconv.Itoa(maxPayload) + ` THEN k ELSE '` + wakeAll + `' END))
		FROM unnest(` + keys + `) AS k WHERE k IS NOT NULL)`
}

// notify notifies keys in tx.
func (s *Store) notify(ctx context.Context, tx *sqlx.Tx, keys ...string) error {
	if len(keys) == 0 {
		return nil
	}
	_, err := tx.ExecContext(ctx, `SELECT `+s.wakeSQL(`$1::text[]`), keys)
	return err
}
