package durable

import (
	"context"
	"errors"
	"fmt"
	"log/slog"
	"sync"
	"time"

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
	log       *slog.Logger

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
	loops    sync.WaitGroup         // background loops started by Launch: dispatchers, watchCancels
	// executing counts workflow functions running now (not suspended);
	// busy receives when it rises from zero. See watchCancels.
	executing int
	busy      chan struct{}
	// unlockExecutor releases the executor lock taken at Launch, if any.
	unlockExecutor func()
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
		log:      cfg.Logger,
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
	return e, nil
}

// Store returns the engine's system database.
func (e *Engine) Store() store.Store { return e.store }

// ExecutorID returns the executor this engine recovers workflows for.
func (e *Engine) ExecutorID() string { return e.cfg.ExecutorID }

// ApplicationVersion returns the version this engine tags and recovers.
func (e *Engine) ApplicationVersion() string { return e.cfg.ApplicationVersion }

// Launch recovers the PENDING workflows of this executor and application
// version and starts them again (those of a queue go back to it), then
// starts serving the registered queues. Register every workflow and queue
// before Launch.
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
	e.state = stateLaunched
	e.loops.Add(1)
	e.mu.Unlock()
	go e.watchCancels()
	mayRecover, err := e.lockExecutor()
	if mayRecover {
		err = errors.Join(err, e.recoverPending(ctx))
	}
	e.startDispatchers()
	return err
}

// lockExecutor claims this engine's executor ID on the database, and
// reports whether this process may recover the executor's PENDING
// workflows: not while another live process runs as the same executor,
// since those workflows may be running there right now.
func (e *Engine) lockExecutor() (bool, error) {
	l, ok := e.store.(store.ExecutorLocker)
	if !ok {
		return true, nil
	}
	release, ok, err := l.LockExecutor(e.cfg.ExecutorID)
	if err != nil {
		return false, fmt.Errorf("durable: launch: %w", err)
	}
	if !ok {
		e.log.Warn("durable: another process runs as this executor on this database; not recovering its PENDING workflows (they are its own, or are recovered when it exits); give each process its own ExecutorID",
			"executor", e.cfg.ExecutorID)
		return false, nil
	}
	e.mu.Lock()
	e.unlockExecutor = release
	e.mu.Unlock()
	return true, nil
}

// Shutdown stops the engine gracefully: running workflows see their
// context cancelled, steps that fail because of it are not recorded, and
// the workflows stay PENDING to resume at the next Launch. It waits for
// them to return until ctx is done, then closes the system database if the
// engine opened it. Calling it twice is safe.
func (e *Engine) Shutdown(ctx context.Context) error {
	e.mu.Lock()
	if e.state == stateShutdown {
		e.mu.Unlock()
		return nil
	}
	e.state = stateShutdown
	e.mu.Unlock()
	e.cancel()
	e.wakeups.close()
	e.loops.Wait() // the dispatchers start nothing more

	stopped := make(chan struct{})
	go func() { e.runs.Wait(); e.loops.Wait(); close(stopped) }()
	select {
	case <-stopped:
	case <-ctx.Done():
		e.mu.Lock()
		n := len(e.active)
		e.mu.Unlock()
		return fmt.Errorf("durable: shutdown: %d workflows still running: %w", n, ctx.Err())
	}
	// What is left is suspended in long sleeps: no goroutine to wait for.
	e.mu.Lock()
	parked := make([]*run, 0, len(e.active))
	for _, r := range e.active {
		parked = append(parked, r)
	}
	e.mu.Unlock()
	for _, r := range parked {
		e.end(r, store.StatusPending, nil, nil, fmt.Errorf("workflow %s interrupted: %w", r.id, ErrShutdown))
	}
	e.mu.Lock()
	unlock := e.unlockExecutor
	e.mu.Unlock()
	if unlock != nil {
		unlock()
	}
	if e.ownsStore {
		return e.store.Close()
	}
	return nil
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
