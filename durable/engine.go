package durable

import (
	"context"
	"errors"
	"fmt"
	"log/slog"
	"sync"
	"time"

	"go.opentelemetry.io/otel/trace"

	"github.com/dboslite/dboslite/store"
	_ "github.com/dboslite/dboslite/store/sqlite" // the default backend
)

type engineState int

const (
	stateNew engineState = iota
	stateLaunched
	stateShutdown
)

// Engine runs durable workflows. Make one with New, register workflows with
// Register, then Launch it; Shutdown stops it.
type Engine struct {
	cfg       Config
	store     store.Store
	ownsStore bool
	codec     Codec
	errKinds  *errorKinds
	log       *slog.Logger
	tracer    trace.Tracer // nil when tracing is off: see trace.go

	// life is cancelled by Shutdown; every workflow runs under it.
	life   context.Context
	cancel context.CancelFunc

	mu       sync.Mutex
	state    engineState
	registry map[string]*registration
	active   map[string]*run // workflows running in this process, by ID
	runs     sync.WaitGroup
	wakeups  wakeups
	queues   map[string]*dispatcher // by queue name; fixed at Launch
	sched    *scheduler             // see scheduler.go
	loops    sync.WaitGroup         // background loops started by Launch: dispatchers, watchCancels
	// executing counts workflow functions running now (not suspended);
	// busy receives when it rises from zero, idle when it falls to zero.
	// See watchCancels.
	executing int
	busy      chan struct{}
	idle      chan struct{}
	adoptNow  chan struct{}   // see adoptSoon
	instance  string          // this engine's live instance, from Launch on
	warned    map[string]bool // workflows already reported as not adoptable
	// shutdownDone closes when the first Shutdown has finished, with
	// shutdownErr its result.
	shutdownDone chan struct{}
	shutdownErr  error
}

// New makes an engine and opens its system database, creating the SQLite
// file and its folder if needed.
func New(cfg Config) (*Engine, error) {
	cfg = cfg.withDefaults()
	if err := cfg.validate(); err != nil {
		return nil, err
	}
	e := &Engine{
		cfg:      cfg,
		store:    cfg.Store,
		codec:    cfg.Codec,
		errKinds: newErrorKinds(),
		log:      cfg.Logger,
		tracer:   newTracer(cfg.TracerProvider),
		warned:   map[string]bool{},
		registry: map[string]*registration{},
		active:   map[string]*run{},
		queues:   map[string]*dispatcher{},
	}
	if e.store == nil {
		s, err := store.Open(context.Background(), cfg.SystemDatabaseURL)
		if err != nil {
			return nil, fmt.Errorf("durable: system database: %w", err)
		}
		e.store, e.ownsStore = s, true
	}
	e.life, e.cancel = context.WithCancel(context.Background())
	e.wakeups = wakeups{resume: e.resume, now: cfg.Now}
	e.busy = make(chan struct{}, 1)
	e.idle = make(chan struct{}, 1)
	e.adoptNow = make(chan struct{}, 1)
	e.sched = newScheduler(e)
	return e, nil
}

// Store returns the engine's system database.
func (e *Engine) Store() store.Store { return e.store }

// ExecutorID returns the executor this engine recovers workflows for.
func (e *Engine) ExecutorID() string { return e.cfg.ExecutorID }

// ApplicationVersion returns the version this engine tags and recovers.
func (e *Engine) ApplicationVersion() string { return e.cfg.ApplicationVersion }

// Launch registers this engine as a live instance, adopts the PENDING
// workflows that no live instance runs (those of a process that crashed
// or shut down) and starts them again — those of a queue go back to it —
// then starts serving the registered queues and the schedules (see
// WithSchedule and CreateSchedule). From then on it renews its
// heartbeat and adopts the work of dead instances every
// HeartbeatInterval. Register every workflow, queue and error before
// Launch. An error adopting one workflow does not stop the others; Launch
// reports them all, and the engine runs.
func (e *Engine) Launch(ctx context.Context) error {
	e.mu.Lock()
	switch e.state {
	case stateLaunched:
		e.mu.Unlock()
		return ErrAlreadyLaunched
	case stateShutdown:
		e.mu.Unlock()
		return ErrShutdown
	}
	e.mu.Unlock()
	if err := e.registerInstance(ctx); err != nil {
		return err
	}
	e.mu.Lock()
	e.state = stateLaunched
	e.loops.Add(2)
	e.mu.Unlock()
	go e.watchCancels()
	go e.heartbeat()
	if e.cfg.RetainFor > 0 || e.cfg.RetainNewest > 0 {
		e.loops.Add(1)
		go e.retain()
	}
	err := e.adopt(ctx)
	e.startDispatchers()
	if serr := e.startScheduler(ctx); serr != nil {
		err = errors.Join(err, serr)
	}
	return err
}

// Shutdown stops the engine gracefully: running workflows see their
// context cancelled, steps that fail because of it are not recorded, and
// the workflows stay PENDING. It waits for them to return until ctx is
// done, then declares its instance stopped, so that another engine adopts
// those workflows at once (or the next Launch does), and closes the
// system database if the engine opened it. If ctx ends first it still
// does both and reports the workflows still running: what they write
// after that is refused, and they are adopted elsewhere. Calling it again
// waits for the first call and returns its result.
func (e *Engine) Shutdown(ctx context.Context) error {
	e.mu.Lock()
	if e.shutdownDone != nil {
		done := e.shutdownDone
		e.mu.Unlock()
		<-done
		return e.shutdownErr
	}
	e.shutdownDone = make(chan struct{})
	launched := e.state == stateLaunched
	e.state = stateShutdown
	e.mu.Unlock()
	defer close(e.shutdownDone)
	e.cancel()
	e.wakeups.close()

	var errs []error
	stopped := make(chan struct{})
	go func() { e.runs.Wait(); e.loops.Wait(); close(stopped) }()
	select {
	case <-stopped:
	case <-ctx.Done():
		e.mu.Lock()
		n := e.executing
		e.mu.Unlock()
		errs = append(errs, fmt.Errorf("durable: shutdown: %d workflows still running: %w", n, ctx.Err()))
	}
	// What is left is parked (a long sleep, a retry), or did not return
	// in time: end it here; it stays PENDING.
	e.mu.Lock()
	parked := make([]*run, 0, len(e.active))
	for _, r := range e.active {
		parked = append(parked, r)
	}
	e.mu.Unlock()
	for _, r := range parked {
		e.end(r, store.StatusPending, nil, nil)
	}
	if launched {
		if err := e.store.StopInstance(context.WithoutCancel(ctx), e.instanceID()); err != nil {
			errs = append(errs, fmt.Errorf("durable: shutdown: release this engine's workflows: %w", err))
		}
	}
	if e.ownsStore {
		errs = append(errs, e.store.Close())
	}
	e.shutdownErr = errors.Join(errs...)
	return e.shutdownErr
}

// checkRunning returns why the engine cannot start workflows, if it cannot.
func (e *Engine) checkRunning() error {
	e.mu.Lock()
	defer e.mu.Unlock()
	switch e.state {
	case stateNew:
		return ErrNotLaunched
	case stateShutdown:
		return ErrShutdown
	}
	return nil
}

func (e *Engine) now() time.Time { return e.cfg.Now() }
