package sqlite

import (
	"database/sql"
	"errors"

	modernc "modernc.org/sqlite"
	sqlite3 "modernc.org/sqlite/lib"

	"github.com/dboslite/dboslite/store"
)

// errRolledBack is the outcome of a write during which SQLite rolled back
// the writer's transaction although the write reported no error.
var errRolledBack = errors.New("sqlite: the transaction was rolled back during the write")

// translate turns driver errors into store errors. It is the one place that
// knows what SQLite's errors look like. A read on the pool of a closed
// Store fails with an error database/sql does not export; see
// [Store.readErr].
func translate(err error) error {
	switch {
	case err == nil:
		return nil
	case errors.Is(err, sql.ErrNoRows):
		return store.ErrNotFound
	case errors.Is(err, sql.ErrConnDone):
		return store.ErrClosed
	}
	return err
}

// readErr translates the error of a read on the reader pool. database/sql
// reports the use of a closed DB with an unexported error ("sql: database
// is closed"), so the Store does not match it: it knows it was closed, and
// a read that fails once Close has begun reports store.ErrClosed.
func (s *Store) readErr(err error) error {
	if err != nil && !errors.Is(err, sql.ErrNoRows) && s.closed.Load() {
		return store.ErrClosed
	}
	return translate(err)
}

// isBusy reports whether err is SQLite's SQLITE_BUSY, with any extended code.
func isBusy(err error) bool {
	var e *modernc.Error
	return errors.As(err, &e) && e.Code()&0xff == sqlite3.SQLITE_BUSY
}
