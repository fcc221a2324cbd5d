package durable_test

import (
	"bytes"
	"context"
	"errors"
	"log/slog"
	"sync"
	"sync/atomic"
	"testing"
	"time"

	"github.com/dboslite/dboslite/durable"
	"github.com/dboslite/dboslite/store"
)

// env is one system database shared by the engines a test makes, as
// successive runs of one program share a file.
type env struct {
	t       *testing.T
	url     string
	log     *syncBuffer
	crashes map[*durable.Engine]*crashStore
	// configure adjusts the Config of every engine the env makes.
	configure []func(*durable.Config)
}

func setup(t *testing.T) *env {
	return &env{t: t, url: newDatabaseURL(t), log: &syncBuffer{}, crashes: map[*durable.Engine]*crashStore{}}
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
	for _, c := range append(v.configure, change...) {
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
// nothing after it is recorded. Run its workflows with untilCrash.
func (v *env) crashing(limit int64, change ...func(*durable.Config)) *durable.Engine {
	v.t.Helper()
	s := v.open()
	cs := &crashStore{Store: s, limit: limit, crashed: make(chan struct{})}
	e := v.engine(append(change, func(c *durable.Config) { c.Store = cs })...)
	v.crashes[e] = cs
	return e
}

// untilCrash calls run (which runs a workflow on e, made by crashing)
// until e's store refuses its first write, then shuts e down there, as a
// kill would stop it: a refused write is not an outcome, so the workflow
// stays PENDING. It returns what run returned, which wraps ErrShutdown
// when the crash interrupted it.
func (v *env) untilCrash(e *durable.Engine, run func() error) error {
	v.t.Helper()
	cs := v.crashes[e]
	done := make(chan error, 1)
	go func() { done <- run() }()
	select {
	case err := <-done:
		return err // finished before the crash
	case <-cs.crashed:
	}
	if err := e.Shutdown(context.Background()); err != nil {
		v.t.Fatalf("shutdown after the crash: %v", err)
	}
	return <-done
}

// open opens the env's database directly.
func (v *env) open() store.Store {
	v.t.Helper()
	s, err := store.Open(context.Background(), v.url)
	if err != nil {
		v.t.Fatalf("open store: %v", err)
	}
	v.t.Cleanup(func() { s.Close() })
	return s
}

// orphan records a PENDING workflow that no instance owns, as a process
// that died right after creating it leaves it; change adjusts the row.
func (v *env) orphan(id, name, input string, change ...func(*store.WorkflowCreateParams)) {
	v.t.Helper()
	p := store.WorkflowCreateParams{ID: id, Name: name, Input: []byte(input), ExecutorID: "local",
		ApplicationVersion: durable.DefaultApplicationVersion, ApplicationName: "test"}
	for _, c := range change {
		c(&p)
	}
	if _, _, err := v.open().CreateWorkflow(context.Background(), p); err != nil {
		v.t.Fatalf("create orphan %s: %v", id, err)
	}
}

// waitSteps waits until workflow id has n recorded steps. Nothing
// signals a record made by a workflow the test does not run itself, so
// it looks every millisecond, for at most ten seconds.
func (v *env) waitSteps(id string, n int) {
	v.t.Helper()
	s := v.open()
	deadline := time.Now().Add(10 * time.Second)
	for {
		steps, err := s.Steps(context.Background(), id)
		if err != nil {
			v.t.Fatalf("steps of %s: %v", id, err)
		}
		if len(steps) >= n {
			return
		}
		if time.Now().After(deadline) {
			v.t.Fatalf("workflow %s has %d steps after 10s, want %d", id, len(steps), n)
		}
		time.Sleep(time.Millisecond)
	}
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

// crashingAt makes an engine whose store refuses the recording of the
// step named step, and every write after it, as if the process died
// just before; run its workflows with untilCrash.
func (v *env) crashingAt(step string, change ...func(*durable.Config)) *durable.Engine {
	v.t.Helper()
	e := v.crashing(1<<62, change...)
	v.crashes[e].atStep = step
	return e
}

// crashStore passes the first limit writes through and refuses the rest,
// or, with atStep, refuses everything from the recording of that step on;
// crashed closes at the first refusal.
type crashStore struct {
	store.Store
	limit   int64
	atStep  string
	writes  atomic.Int64
	down    atomic.Bool
	crashed chan struct{}
	once    sync.Once
}

func (c *crashStore) dead() bool {
	if !c.down.Load() && c.writes.Add(1) <= c.limit {
		return false
	}
	c.down.Store(true)
	c.once.Do(func() { close(c.crashed) })
	return true
}

func (c *crashStore) CreateWorkflow(ctx context.Context, p store.WorkflowCreateParams) (store.Workflow, bool, error) {
	if c.dead() {
		return store.Workflow{}, false, errCrash
	}
	return c.Store.CreateWorkflow(ctx, p)
}

func (c *crashStore) RecordStep(ctx context.Context, p store.StepParams) error {
	if c.atStep != "" && p.Step.Name == c.atStep {
		c.down.Store(true)
	}
	if c.dead() {
		return errCrash
	}
	return c.Store.RecordStep(ctx, p)
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
