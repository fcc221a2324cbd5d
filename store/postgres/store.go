package postgres

import (
	"context"
	"errors"
	"fmt"
	"sync"
	"sync/atomic"
	"time"

	"github.com/jackc/pgx/v5/stdlib" // pgx's database/sql driver
	"github.com/jmoiron/sqlx"

	"github.com/dboslite/dboslite/store"
)

func init() {
	store.Register("postgres", func(ctx context.Context, u string, o store.OpenOptions) (store.Store, error) {
		s, err := OpenWith(ctx, u, o)
		if err != nil {
			return nil, err // not a nil *Store in a non-nil store.Store
		}
		return s, nil
	})
}

var (
	_ store.Store     = (*Store)(nil)
	_ store.Watcher   = (*Store)(nil)
	_ store.Rechecker = (*Store)(nil)
)

// Store is the PostgreSQL system database: a pool of connections through
// database/sql, and one more connection that listens for the schema's
// notifications.
type Store struct {
	db       *sqlx.DB
	hub      *hub
	listener *listener
	notifier *notifier // sends the keys of this store's commits (see notify.go); nil when read-only
	readOnly bool
	// Group commit of the writes of running workflows: see group.go.
	steps     *group[store.StepParams, none]
	outcomes  *group[store.OutcomeParams, outcome]
	creates   *group[store.WorkflowCreateParams, creation]
	schema    string
	channel   string
	closed    atomic.Bool // set by Close
	closeOnce sync.Once
	closeErr  error
}

// Open connects to the database a URL names (see ParseURL), creates the
// schema if it is missing and applies the migrations it lacks.
func Open(ctx context.Context, u string) (*Store, error) {
	return OpenWith(ctx, u, store.OpenOptions{})
}

// OpenWith connects to the database a URL names the way o says: see
// OpenConfig.
func OpenWith(ctx context.Context, u string, o store.OpenOptions) (*Store, error) {
	c, err := ParseURL(u)
	if err != nil {
		return nil, err
	}
	s, err := OpenConfig(ctx, c, o)
	if err != nil {
		return nil, fmt.Errorf("postgres: open system database %q: %w", store.RedactURL(u), err)
	}
	return s, nil
}

// OpenConfig opens the database c describes. Its errors do not name the
// database; Open's do. With o.Existing it creates no schema and migrates
// nothing: a schema that does not exist, or holds no system database, is
// store.ErrNotFound, an older or a newer one a *store.SchemaError. With
// o.ReadOnly (which implies Existing) every connection of the pool sets
// default_transaction_read_only, so the server refuses every write, which
// the store reports as store.ErrReadOnly, and no notifier runs; the
// listener still listens.
func OpenConfig(ctx context.Context, c Config, o store.OpenOptions) (*Store, error) {
	if c.Conn == nil {
		return nil, errors.New("no connection configuration")
	}
	conn := c.Conn.Copy()
	if o.ReadOnly {
		o.Existing = true
		conn.RuntimeParams["default_transaction_read_only"] = "on"
	}
	db := sqlx.NewDb(stdlib.OpenDB(*conn), "pgx")
	db.SetMaxOpenConns(c.MaxConns)
	db.SetMaxIdleConns(c.MaxConns)
	db.SetConnMaxIdleTime(5 * time.Minute)
	if err := db.PingContext(ctx); err != nil {
		db.Close()
		return nil, fmt.Errorf("connect: %w", err)
	}
	prepare := migrate
	if o.Existing {
		prepare = checkSchema
	}
	if err := prepare(ctx, db, c.Schema); err != nil {
		db.Close()
		return nil, err
	}
	s := &Store{db: db, hub: newHub(), readOnly: o.ReadOnly, schema: c.Schema, channel: channel(c.Schema)}
	s.makeGroups()
	l, err := listen(ctx, conn.Copy(), s.channel, s.hub)
	if err != nil {
		db.Close()
		return nil, fmt.Errorf("listen: %w", err)
	}
	s.listener = l
	if !o.ReadOnly {
		s.notifier = startNotifier(db, s.channel)
	}
	return s, nil
}

// Schema returns the schema that holds the store's tables.
func (s *Store) Schema() string { return s.schema }

// Watch implements store.Watcher.
func (s *Store) Watch(ctx context.Context, p store.WatchParams) (<-chan struct{}, func()) {
	return s.hub.watch(ctx, p)
}

// FeedLost implements store.Watcher: it reports whether the listening
// connection is down and being made again.
func (s *Store) FeedLost() bool { return s.listener.feedLost() }

// Close stops the listener and closes every connection. It is safe to
// call twice.
func (s *Store) Close() error {
	s.closed.Store(true)
	s.closeOnce.Do(func() {
		s.listener.stop()
		if s.notifier != nil {
			s.notifier.stop()
		}
		s.closeErr = s.db.Close()
	})
	return s.closeErr
}

// dbNow is the database server's clock in Unix milliseconds: the time the
// current statement began, one value however often a statement names it.
const dbNow = `floor(extract(epoch FROM statement_timestamp()) * 1000)::bigint`

// nowArg is the argument for a time that, when zero, is the database's:
// NULL, which the statement turns into dbNow with coalesce.
func nowArg(t time.Time) any {
	if t.IsZero() {
		return nil
	}
	return t.UnixMilli()
}

// millis is a time as stored: Unix milliseconds, 0 for none.
func millis(t time.Time) int64 {
	if t.IsZero() {
		return 0
	}
	return t.UnixMilli()
}

func fromMillis(ms int64) time.Time {
	if ms == 0 {
		return time.Time{}
	}
	return time.UnixMilli(ms)
}
