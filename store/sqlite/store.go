package sqlite

import (
	"context"
	"database/sql"
	"errors"
	"fmt"
	"os"
	"path/filepath"
	"strings"
	"sync"
	"sync/atomic"
	"time"

	"github.com/jmoiron/sqlx"
	modernc "modernc.org/sqlite" // the pure-Go SQLite driver

	"github.com/dboslite/dboslite/store"
)

func init() {
	store.Register("sqlite", func(ctx context.Context, u string, o store.OpenOptions) (store.Store, error) {
		s, err := OpenWith(ctx, u, o)
		if err != nil {
			return nil, err // not a nil *Store in a non-nil store.Store
		}
		return s, nil
	})
}

var (
	_ store.Store   = (*Store)(nil)
	_ store.Watcher = (*Store)(nil)
)

// Store is the SQLite system database: one writer connection, owned by a
// goroutine that commits queued writes together, and a pool of readers.
// A store opened read-only has the readers only.
type Store struct {
	*hub             // Watch
	path      string // "" for an in-memory database
	writer    *sqlx.DB
	reader    *sqlx.DB
	w         *writer // nil when read-only: every write is store.ErrReadOnly
	readOnly  bool
	closed    atomic.Bool // set by Close
	closeOnce sync.Once
	closeErr  error
}

// Open opens (creating if needed) the SQLite database a URL names, checks
// its settings and applies the migrations it lacks.
func Open(ctx context.Context, u string) (*Store, error) {
	return OpenWith(ctx, u, store.OpenOptions{})
}

// OpenWith opens the SQLite database a URL names the way o says: see
// OpenConfig.
func OpenWith(ctx context.Context, u string, o store.OpenOptions) (*Store, error) {
	c, err := ParseURL(u)
	if err != nil {
		return nil, err
	}
	return OpenConfig(ctx, c, o)
}

// OpenConfig opens the database c describes. With o.Existing it creates
// neither the file nor its folder, and migrates nothing: a missing file,
// or one without a system database, is store.ErrNotFound, an older or a
// newer schema a *store.SchemaError. With o.ReadOnly (which implies
// Existing) it opens the file as readOnly describes.
func OpenConfig(ctx context.Context, c Config, o store.OpenOptions) (*Store, error) {
	memory := c.Path == ":memory:"
	if o.ReadOnly || o.Existing {
		if err := existing(c.Path); err != nil {
			return nil, err
		}
	} else if !memory {
		if err := preparePath(c.Path); err != nil {
			return nil, err
		}
	}
	if o.ReadOnly {
		return openReadOnly(ctx, c)
	}
	pragmas := fmt.Sprintf("_pragma=busy_timeout(%d)&_pragma=foreign_keys(1)&_pragma=synchronous(%s)&_txlock=immediate",
		c.BusyTimeout, c.Synchronous)
	if o.Existing {
		pragmas += "&mode=rw" // never create the file, even one deleted since existing looked
	}
	var dsn string
	if memory {
		dsn = "file::memory:?" + pragmas
	} else {
		dsn = "file:" + c.Path + "?" + pragmas // setup switches the file to WAL
	}
	s := &Store{hub: newHub(), path: c.Path}
	if memory {
		s.path = ""
	}
	guard := new(txGuard)
	var err error
	s.writer, err = openDB(dsn, guard, 1)
	if err != nil {
		return nil, wrapOpen(c.Path, err)
	}
	if err := s.setup(ctx, c, memory, o.Existing); err != nil {
		s.writer.Close()
		return nil, wrapOpen(c.Path, err)
	}
	if memory {
		s.reader = s.writer // one connection holds the whole database
	} else if s.reader, err = openDB(dsn+"&_pragma=query_only(1)", nil, 4); err != nil {
		s.writer.Close()
		return nil, wrapOpen(c.Path, err)
	}
	s.w = startWriter(s.writer, s.hub, guard)
	return s, nil
}

// openDB opens a pool of conns connections to dsn, with the hooks of guard
// on each if it is not nil.
func openDB(dsn string, guard *txGuard, conns int) (*sqlx.DB, error) {
	c, err := modernc.NewConnector(dsn)
	if err != nil {
		return nil, err
	}
	if guard != nil {
		c = guardedConnector{Connector: c, guard: guard}
	}
	db := sqlx.NewDb(sql.OpenDB(c), "sqlite")
	db.SetMaxOpenConns(conns)
	db.SetMaxIdleConns(conns)
	db.SetConnMaxIdleTime(0)
	return db, nil
}

// setup verifies the pragmas took effect (the driver ignores keys it does
// not know) and migrates the schema, or with existing checks that it
// needs no migration, before it changes anything.
func (s *Store) setup(ctx context.Context, c Config, memory, existing bool) error {
	if existing {
		if err := checkSchema(ctx, s.writer); err != nil {
			return err
		}
	}
	mode, err := journalMode(ctx, s.writer, c, memory)
	if err != nil {
		return err
	}
	want := "wal"
	if memory {
		want = "memory"
	}
	if strings.ToLower(mode) != want {
		return fmt.Errorf("journal_mode is %q, want %q", mode, want)
	}
	var fk int
	if err := s.writer.GetContext(ctx, &fk, "PRAGMA foreign_keys"); err != nil {
		return err
	}
	if fk != 1 {
		return errors.New("foreign_keys is off")
	}
	var sync int
	if err := s.writer.GetContext(ctx, &sync, "PRAGMA synchronous"); err != nil {
		return err
	}
	if want := map[string]int{"NORMAL": 1, "FULL": 2}[c.Synchronous]; sync != want {
		return fmt.Errorf("synchronous is %d, want %d (%s)", sync, want, c.Synchronous)
	}
	if existing {
		return nil
	}
	return migrate(ctx, s.writer)
}

// walRetry is how long journalMode waits before trying the switch to WAL
// again.
const walRetry = 5 * time.Millisecond

// journalMode switches a database file to WAL and returns the journal mode
// in force. The switch upgrades a read lock to a write lock, and SQLite
// answers such an upgrade with SQLITE_BUSY at once, without waiting
// busy_timeout, when another connection holds a lock: several processes
// opening a new file at the same moment would fail with "database is
// locked". So a busy switch is retried until c.BusyTimeout has passed.
func journalMode(ctx context.Context, db *sqlx.DB, c Config, memory bool) (string, error) {
	var mode string
	if memory {
		err := db.GetContext(ctx, &mode, "PRAGMA journal_mode")
		return mode, err
	}
	deadline := time.Now().Add(time.Duration(c.BusyTimeout) * time.Millisecond)
	for {
		err := db.GetContext(ctx, &mode, "PRAGMA journal_mode=WAL")
		if !isBusy(err) || time.Now().After(deadline) {
			return mode, err
		}
		select {
		case <-time.After(walRetry):
		case <-ctx.Done():
			return "", ctx.Err()
		}
	}
}

// preparePath creates the database's folder and rejects a path that cannot
// hold a database, naming it.
func preparePath(path string) error {
	if strings.ContainsAny(path, "?#") {
		return fmt.Errorf("sqlite: system database path %q: '?' and '#' are not allowed in a path", path)
	}
	if fi, err := os.Stat(path); err == nil && fi.IsDir() {
		return fmt.Errorf("sqlite: system database path %q is a directory, not a file", path)
	}
	if dir := filepath.Dir(path); dir != "" {
		if err := os.MkdirAll(dir, 0o755); err != nil {
			return fmt.Errorf("sqlite: create folder for system database %q: %w", path, err)
		}
	}
	return nil
}

func wrapOpen(path string, err error) error {
	return fmt.Errorf("sqlite: open system database %q: %w", path, err)
}

// Path returns the database file's path, or "" for an in-memory database.
func (s *Store) Path() string { return s.path }

// Close stops the writer and closes every connection. It is safe to call
// twice.
func (s *Store) Close() error {
	s.closed.Store(true)
	s.closeOnce.Do(func() {
		if s.w != nil {
			s.w.stop()
			s.closeErr = s.writer.Close()
		}
		if s.reader != s.writer {
			s.closeErr = errors.Join(s.closeErr, s.reader.Close())
		}
	})
	return s.closeErr
}
