package durable_test

import (
	"bytes"
	"context"
	"errors"
	"log/slog"
	"path/filepath"
	"sync"
	"sync/atomic"
	"testing"

	"github.com/dboslite/dboslite/durable"
	"github.com/dboslite/dboslite/store"
	"github.com/dboslite/dboslite/store/sqlite"
)

// env is one system database shared by the engines a test makes, as
// successive runs of one program share a file.
type env struct {
	t   *testing.T
	url string
	log *syncBuffer
}

func setup(t *testing.T) *env {
	return &env{t: t, url: "sqlite:" + filepath.Join(t.TempDir(), "sys.sqlite"), log: &syncBuffer{}}
}

// engine makes an engine on the env's database; change adjusts its Config.
// It is shut down at the end of the test.
func (v *env) engine(change ...func(*durable.Config)) *durable.Engine {
	v.t.Helper()
	cfg := durable.Config{
		AppName:           "test",
		SystemDatabaseURL: v.url,
		Logger:            slog.New(slog.NewTextHandler(v.log, &slog.HandlerOptions{Level: slog.LevelDebug})),
	}
	for _, c := range change {
		c(&cfg)
	}
	e, err := durable.New(cfg)
	if err != nil {
		v.t.Fatalf("new engine: %v", err)
	}
	v.t.Cleanup(func() { e.Shutdown(context.Background()) })
	return e
}

// crashing makes an engine whose store fails every write after the first
// limit ones, as if the process died there: what was written stays, and
// nothing after it is recorded.
func (v *env) crashing(limit int64, change ...func(*durable.Config)) *durable.Engine {
	v.t.Helper()
	s := v.open()
	cs := &crashStore{Store: s, limit: limit}
	return v.engine(append(change, func(c *durable.Config) { c.Store = cs })...)
}

// open opens the env's database directly.
func (v *env) open() *sqlite.Store {
	v.t.Helper()
	s, err := sqlite.Open(context.Background(), v.url)
	if err != nil {
		v.t.Fatalf("open store: %v", err)
	}
	v.t.Cleanup(func() { s.Close() })
	return s
}

func (v *env) steps(id string) []store.Step {
	v.t.Helper()
	steps, err := v.open().Steps(context.Background(), id)
	if err != nil {
		v.t.Fatalf("steps of %s: %v", id, err)
	}
	return steps
}

func (v *env) workflow(id string) store.Workflow {
	v.t.Helper()
	wf, err := v.open().GetWorkflow(context.Background(), id)
	if err != nil {
		v.t.Fatalf("workflow %s: %v", id, err)
	}
	return wf
}

func launch(t *testing.T, e *durable.Engine) {
	t.Helper()
	if err := e.Launch(context.Background()); err != nil {
		t.Fatalf("launch: %v", err)
	}
}

func register[In, Out any](t *testing.T, e *durable.Engine, name string, fn func(context.Context, In) (Out, error), opts ...durable.RegisterOption) *durable.Workflow[In, Out] {
	t.Helper()
	w, err := durable.Register(e, name, fn, opts...)
	if err != nil {
		t.Fatalf("register %s: %v", name, err)
	}
	return w
}

var errCrash = errors.New("simulated crash: write refused")

// crashStore passes the first limit writes through and refuses the rest.
type crashStore struct {
	store.Store
	limit  int64
	writes atomic.Int64
}

func (c *crashStore) dead() bool { return c.writes.Add(1) > c.limit }

func (c *crashStore) CreateWorkflow(ctx context.Context, p store.WorkflowCreateParams) (store.Workflow, bool, error) {
	if c.dead() {
		return store.Workflow{}, false, errCrash
	}
	return c.Store.CreateWorkflow(ctx, p)
}

func (c *crashStore) RecordStep(ctx context.Context, s store.Step) error {
	if c.dead() {
		return errCrash
	}
	return c.Store.RecordStep(ctx, s)
}

func (c *crashStore) SetOutcome(ctx context.Context, p store.OutcomeParams) (bool, error) {
	if c.dead() {
		return false, errCrash
	}
	return c.Store.SetOutcome(ctx, p)
}

func (c *crashStore) RecoverWorkflow(ctx context.Context, p store.RecoverParams) (store.Workflow, error) {
	if c.dead() {
		return store.Workflow{}, errCrash
	}
	return c.Store.RecoverWorkflow(ctx, p)
}

// counter counts calls by name, safely across goroutines.
type counter struct {
	mu sync.Mutex
	n  map[string]int
}

func (c *counter) inc(name string) {
	c.mu.Lock()
	defer c.mu.Unlock()
	if c.n == nil {
		c.n = map[string]int{}
	}
	c.n[name]++
}

func (c *counter) get(name string) int {
	c.mu.Lock()
	defer c.mu.Unlock()
	return c.n[name]
}

type syncBuffer struct {
	mu sync.Mutex
	b  bytes.Buffer
}

func (s *syncBuffer) Write(p []byte) (int, error) {
	s.mu.Lock()
	defer s.mu.Unlock()
	return s.b.Write(p)
}

func (s *syncBuffer) String() string {
	s.mu.Lock()
	defer s.mu.Unlock()
	return s.b.String()
}

func (c *crashStore) CancelWorkflow(ctx context.Context, p store.CancelParams) (store.Workflow, error) {
	if c.dead() {
		return store.Workflow{}, errCrash
	}
	return c.Store.CancelWorkflow(ctx, p)
}

func (c *crashStore) Send(ctx context.Context, p store.SendParams) error {
	if c.dead() {
		return errCrash
	}
	return c.Store.Send(ctx, p)
}

func (c *crashStore) ConsumeMessage(ctx context.Context, p store.ConsumeParams) ([]byte, bool, error) {
	if c.dead() {
		return nil, false, errCrash
	}
	b, ok, err := c.Store.ConsumeMessage(ctx, p)
	if !ok && err == nil {
		c.writes.Add(-1) // nothing was written
	}
	return b, ok, err
}

func (c *crashStore) SetEvent(ctx context.Context, p store.EventParams) error {
	if c.dead() {
		return errCrash
	}
	return c.Store.SetEvent(ctx, p)
}

func (c *crashStore) WriteStream(ctx context.Context, p store.StreamWrite) error {
	if c.dead() {
		return errCrash
	}
	return c.Store.WriteStream(ctx, p)
}
