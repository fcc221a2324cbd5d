package sqlite

import (
	"context"
	"errors"
	"fmt"
	"os"
	"strings"

	"github.com/jmoiron/sqlx"
	modernc "modernc.org/sqlite"
	sqlite3 "modernc.org/sqlite/lib"

	"github.com/dboslite/dboslite/store"
)

// A store opened read-only is for a program that looks at an
// application's database without owning it, while the application may
// be writing it at full speed. It opens the file with mode=ro, so SQLite
// writes nothing to it, and query_only, so no statement writes; it has no
// writer goroutine, so it switches nothing to WAL (a dboslite file is in
// WAL mode already), migrates nothing and logs no changes. Its readers
// take no lock that makes a writer wait: in WAL mode a reader only keeps
// the WAL from being checkpointed past what it reads.
//
// SQLite reads a WAL file through its -shm and -wal files. While the
// application runs they exist, and a reader that may not write them
// still reads. When it does not run they are gone, and a reader that may
// not create them (a folder it may not write) cannot read: then, and
// only then, the file is opened immutable, as no process can be writing
// it without a -wal file. Should the application start meanwhile, the
// reader goes on reading the file as it was.

// existing checks that path names a database file, without creating it:
// store.ErrNotFound, naming the path, if it does not exist.
func existing(path string) error {
	if path == ":memory:" {
		return fmt.Errorf("sqlite: system database %q: an in-memory database does not exist before it is opened: %w",
			path, store.ErrNotFound)
	}
	if strings.ContainsAny(path, "?#") {
		return fmt.Errorf("sqlite: system database path %q: '?' and '#' are not allowed in a path", path)
	}
	fi, err := os.Stat(path)
	switch {
	case errors.Is(err, os.ErrNotExist):
		return fmt.Errorf("sqlite: system database %q does not exist: %w", path, store.ErrNotFound)
	case err != nil:
		return fmt.Errorf("sqlite: system database %q: %w", path, err)
	case fi.IsDir():
		return fmt.Errorf("sqlite: system database path %q is a directory, not a file", path)
	}
	return nil
}

// openReadOnly opens the existing file of c read-only.
func openReadOnly(ctx context.Context, c Config) (*Store, error) {
	dsn := fmt.Sprintf("file:%s?mode=ro&_pragma=busy_timeout(%d)&_pragma=query_only(1)", c.Path, c.BusyTimeout)
	db, err := openChecked(ctx, dsn)
	if cannotMakeWAL(err) {
		if _, serr := os.Stat(c.Path + "-wal"); errors.Is(serr, os.ErrNotExist) {
			db, err = openChecked(ctx, dsn+"&immutable=1")
		}
	}
	if err != nil {
		return nil, wrapOpen(c.Path, err)
	}
	s := &Store{hub: newHub(), path: c.Path, reader: db, readOnly: true}
	return s, nil
}

// openChecked opens a pool of readers on dsn and checks the schema.
func openChecked(ctx context.Context, dsn string) (*sqlx.DB, error) {
	db, err := openDB(dsn, nil, 4)
	if err != nil {
		return nil, err
	}
	if err := checkSchema(ctx, db); err != nil {
		db.Close()
		return nil, err
	}
	return db, nil
}

// cannotMakeWAL reports whether err is SQLite's failure to create the
// -shm or -wal file of a database opened read-only.
func cannotMakeWAL(err error) bool {
	var e *modernc.Error
	return errors.As(err, &e) && (e.Code() == sqlite3.SQLITE_READONLY_DIRECTORY || e.Code()&0xff == sqlite3.SQLITE_CANTOPEN)
}

// FeedLost implements store.Watcher. A read-only store has no writer to
// follow the change log, so other processes' commits go unseen and
// waiters poll: it reports true. So does a store not yet listed as a
// listener (listeners.go), whose writer has just been asked to join.
func (s *Store) FeedLost() bool { return s.readOnly || !s.w.listening.Load() }
