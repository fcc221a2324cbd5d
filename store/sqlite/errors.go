package sqlite

import (
	"database/sql"
	"errors"
	"strings"

	driver "modernc.org/sqlite"
	sqlite3 "modernc.org/sqlite/lib"

	"github.com/dboslite/dboslite/store"
)

// translate turns driver errors into store errors. It is the one place that
// knows what SQLite's errors look like.
func translate(err error) error {
	switch {
	case err == nil:
		return nil
	case errors.Is(err, sql.ErrNoRows):
		return store.ErrNotFound
	case errors.Is(err, sql.ErrConnDone) && strings.Contains(err.Error(), "closed"):
		return store.ErrClosed
	case strings.Contains(err.Error(), "sql: database is closed"):
		return store.ErrClosed
	}
	return err
}

// isBusy reports whether err is SQLite's SQLITE_BUSY, with any extended code.
func isBusy(err error) bool {
	var e *driver.Error
	return errors.As(err, &e) && e.Code()&0xff == sqlite3.SQLITE_BUSY
}
