package durabletest

import (
	"context"
	"io"
	"log/slog"
	"path/filepath"
	"sync"
	"testing"
	"time"

	_ "github.com/jackc/pgx/v5/stdlib" // to drop a test's schema

	"github.com/dboslite/dboslite/durable"
	"github.com/dboslite/dboslite/internal/pgschema"
	"github.com/dboslite/dboslite/store"
	_ "github.com/dboslite/dboslite/store/postgres" // WithPostgres
)

// Option configures an Env, or one crash run (CrashAt, CrashEveryStep).
// Make one with WithConfig, WithPostgres, WithWorkflowID or WithTimeout.
type Option struct{ apply func(*options) }

type options struct {
	configure []func(*durable.Config)
	postgres  string // base URL; "" for SQLite
	id        string
	timeout   time.Duration
}

func makeOptions(opts []Option) options {
	o := options{id: "durabletest", timeout: time.Minute}
	for _, opt := range opts {
		if opt.apply != nil {
			opt.apply(&o)
		}
	}
	return o
}

// WithConfig adjusts the Config of every engine made: a logger, a codec,
// a clock. Its SystemDatabaseURL and Store are set by the kit and
// overwritten.
func WithConfig(change func(*durable.Config)) Option {
	return Option{func(o *options) { o.configure = append(o.configure, change) }}
}

// WithPostgres puts each database in a new schema of the PostgreSQL
// database at url (which the test must be able to create schemas in),
// dropped when the test ends, instead of a temporary SQLite file. An
// empty url keeps SQLite, so that
// WithPostgres(os.Getenv("DBOS_TEST_POSTGRES_URL")) uses PostgreSQL only
// where one is given.
func WithPostgres(url string) Option {
	return Option{func(o *options) { o.postgres = url }}
}

// WithWorkflowID gives the workflow a crash run starts this ID. Defaults
// to "durabletest".
func WithWorkflowID(id string) Option {
	return Option{func(o *options) { o.id = id }}
}

// WithTimeout bounds each phase of a crash run — the run up to the crash,
// the recovery — and the shutdown of an Env's engines. Defaults to a
// minute.
func WithTimeout(d time.Duration) Option {
	return Option{func(o *options) { o.timeout = d }}
}

// Env is a temporary system database for one test, and the engines the
// test makes on it, as successive runs of one program share a database.
// Everything is removed when the test ends. It is safe for use by
// several goroutines.
type Env struct {
	t    testing.TB
	opts options

	mu      sync.Mutex
	url     string
	engines []*durable.Engine // shut down at Reset and at the end
	stores  []store.Store     // opened by the kit: closed after the engines
	schemas []string          // PostgreSQL schemas to drop at the end
}

// NewEnv makes an Env on a new, empty temporary database: a SQLite file
// in t.TempDir(), or a PostgreSQL schema with WithPostgres.
func NewEnv(t testing.TB, opts ...Option) *Env {
	t.Helper()
	v := &Env{t: t, opts: makeOptions(opts)}
	v.url = v.newURL()
	t.Cleanup(v.cleanup) // after newURL: before the temporary folder goes
	return v
}

// New makes an engine on a new, empty temporary database, shut down when
// the test ends. Register the workflows, then Launch it.
func New(t testing.TB, opts ...Option) *durable.Engine {
	t.Helper()
	return NewEnv(t, opts...).Engine()
}

// NewWorkflow makes an engine with New, registers on it what setup
// registers, launches it and returns the workflow setup returned.
func NewWorkflow[In, Out any](t testing.TB, setup Setup[In, Out], opts ...Option) *durable.Workflow[In, Out] {
	t.Helper()
	e := New(t, opts...)
	w := register(t, setup, e)
	Launch(t, e)
	return w
}

// Launch launches e, failing the test if it cannot.
func Launch(t testing.TB, e *durable.Engine) {
	t.Helper()
	if err := e.Launch(context.Background()); err != nil {
		t.Fatalf("durabletest: launch: %v", err)
	}
}

// URL returns the URL of the Env's current database.
func (v *Env) URL() string {
	v.mu.Lock()
	defer v.mu.Unlock()
	return v.url
}

// Engine makes an engine on the Env's database, not yet launched, with
// the Env's options and then opts' WithConfig changes. Several engines on
// one Env are several processes sharing a database; shut one down and
// make another to restart the program. It is shut down at Reset and when
// the test ends.
func (v *Env) Engine(opts ...Option) *durable.Engine {
	v.t.Helper()
	return v.engine(nil, opts)
}

// engine makes an engine on the Env's database, on s if it is given.
func (v *Env) engine(s store.Store, opts []Option) *durable.Engine {
	v.t.Helper()
	o := makeOptions(opts)
	cfg := durable.Config{
		AppName: "durabletest",
		Logger:  slog.New(slog.NewTextHandler(io.Discard, nil)),
	}
	for _, c := range append(v.opts.configure, o.configure...) {
		c(&cfg)
	}
	cfg.SystemDatabaseURL, cfg.Store = v.URL(), s
	e, err := durable.New(cfg)
	if err != nil {
		v.t.Fatalf("durabletest: new engine: %v", err)
	}
	v.mu.Lock()
	v.engines = append(v.engines, e)
	v.mu.Unlock()
	return e
}

// open opens the Env's database directly, closed after the Env's engines
// are shut down.
func (v *Env) open() store.Store {
	v.t.Helper()
	s, err := store.Open(context.Background(), v.URL())
	if err != nil {
		v.t.Fatalf("durabletest: open the system database: %v", err)
	}
	v.mu.Lock()
	v.stores = append(v.stores, s)
	v.mu.Unlock()
	return s
}

// Reset shuts down the Env's engines and moves it to a new, empty
// database, for a test that runs several cases on one Env.
func (v *Env) Reset() {
	v.t.Helper()
	v.shutdown()
	url := v.newURL()
	v.mu.Lock()
	v.url = url
	v.mu.Unlock()
}

// cleanup removes everything the Env made.
func (v *Env) cleanup() {
	v.shutdown()
	v.mu.Lock()
	schemas := v.schemas
	v.mu.Unlock()
	for _, schema := range schemas {
		dropSchema(v.t, v.opts.postgres, schema)
	}
}

// shutdown shuts down the Env's engines, then closes its stores.
func (v *Env) shutdown() {
	v.mu.Lock()
	engines, stores := v.engines, v.stores
	v.engines, v.stores = nil, nil
	v.mu.Unlock()
	defer func() {
		for _, s := range stores {
			s.Close()
		}
	}()
	for _, e := range engines {
		ctx, cancel := context.WithTimeout(context.Background(), v.opts.timeout)
		err := e.Shutdown(ctx)
		cancel()
		if err != nil && !dead(e) {
			v.t.Errorf("durabletest: shut down an engine: %v", err)
		}
	}
}

// dead reports whether e's store is one of a crash run that crashed: its
// shutdown errors are what a killed process leaves.
func dead(e *durable.Engine) bool {
	d, ok := e.Store().(interface{ isDead() bool })
	return ok && d.isDead()
}

// newURL returns the URL of a new, empty database, removed when the test
// ends.
func (v *Env) newURL() string {
	v.t.Helper()
	if v.opts.postgres == "" {
		return "sqlite:" + filepath.Join(v.t.TempDir(), "sys.sqlite")
	}
	schema := pgschema.Name("durabletest_")
	v.mu.Lock()
	v.schemas = append(v.schemas, schema)
	v.mu.Unlock()
	return pgschema.URL(v.opts.postgres, schema)
}

func dropSchema(t testing.TB, base, schema string) {
	if err := pgschema.Drop(base, schema); err != nil {
		t.Errorf("durabletest: drop schema %s: %v", schema, err)
	}
}
