package durable

import (
	"context"
	"errors"
	"fmt"
	"sync"
	"time"

	goid_ "github.com/petermattis/goid"

	"github.com/dboslite/dboslite/store"
)

// wfState is what a running workflow's context carries: who it is, which
// steps were recorded before this run, and the next step number. The
// recorded steps are read once when the run starts; after that the engine
// writes without reading.
type wfState struct {
	eng      *Engine
	id       string
	name     string
	owner    string    // the instance running it: every write names it
	deadline time.Time // inherited by children
	goid     int64     // the goroutine running the workflow function
	// cause returns why the run's own context ended (a cancel, the
	// deadline, shutdown, lost ownership), or nil while it may go on.
	cause func() error

	mu sync.Mutex
	// wakeAt is set by a Sleep that suspends the workflow; from then on
	// durable operations (in deferred calls) do nothing.
	wakeAt time.Time
	// failed is the first system-database error or loss of ownership met
	// by a durable operation: the run then ends without an outcome, and
	// every later durable operation returns it.
	failed   error
	last     int                // the last step number handed out
	recorded map[int]store.Step // steps recorded by earlier runs
}

func newState(e *Engine, r *run, wf store.Workflow, steps []store.Step, ctx context.Context) *wfState {
	st := &wfState{eng: e, id: wf.ID, name: wf.Name, owner: r.owner, deadline: wf.Deadline, goid: goid(),
		cause: func() error { return context.Cause(ctx) }}
	if len(steps) > 0 {
		st.recorded = make(map[int]store.Step, len(steps))
		for _, s := range steps {
			st.recorded[s.StepID] = s
		}
	}
	return st
}

// goid returns the current goroutine's ID. Durable operations use it to
// refuse being called from another goroutine than the workflow
// function's, whose step numbers would depend on scheduling. It is read
// from the runtime directly (a few nanoseconds) where petermattis/goid
// knows how, from a stack trace elsewhere.
func goid() int64 { return goid_.Get() }

type wfKey struct{}
type stepKey struct{}

func withState(ctx context.Context, st *wfState) context.Context {
	return context.WithValue(ctx, wfKey{}, st)
}

// stateFrom returns the workflow running in ctx, or nil outside a workflow.
func stateFrom(ctx context.Context) *wfState {
	st, _ := ctx.Value(wfKey{}).(*wfState)
	return st
}

// inStep reports whether ctx belongs to a running step.
func inStep(ctx context.Context) bool { return ctx.Value(stepKey{}) != nil }

// errNotOwner ends a run whose workflow another instance owns now; the
// run records nothing more and its waiters wait for the new owner.
var errNotOwner = errors.New("durable: workflow adopted by another instance")

// next hands out the next step number and the step recorded under it by an
// earlier run, if any. It refuses other goroutines than the workflow's,
// and fails once the run is stopping: cancelled, past its deadline,
// shutting down, suspending, or after a failed write.
func (s *wfState) next() (int, store.Step, bool, error) {
	if goid() != s.goid {
		return 0, store.Step{}, false, fmt.Errorf("%w (workflow %s)", ErrNotWorkflowGoroutine, s.id)
	}
	if err := s.halted(); err != nil {
		return 0, store.Step{}, false, err
	}
	s.mu.Lock()
	defer s.mu.Unlock()
	if s.failed != nil {
		return 0, store.Step{}, false, s.failed
	}
	if !s.wakeAt.IsZero() { // unwinding into a suspension
		return 0, store.Step{}, false, errSuspended
	}
	s.last++
	rec, ok := s.recorded[s.last]
	return s.last, rec, ok, nil
}

// halted returns why the run must stop, or nil while it may go on. A
// step that fails because of it is not recorded: it runs again when the
// workflow does.
func (s *wfState) halted() error {
	cause := s.cause()
	switch {
	case cause == nil:
		return nil
	case errors.Is(cause, ErrWorkflowCancelled), errors.Is(cause, errNotOwner):
		return fmt.Errorf("workflow %s: %w", s.id, cause)
	case s.eng.life.Err() != nil:
		return fmt.Errorf("workflow %s interrupted: %w", s.id, ErrShutdown)
	}
	return fmt.Errorf("workflow %s stopped: %w", s.id, cause)
}

// check returns a DeterminismError if a replayed step's name differs.
func (s *wfState) check(n int, rec store.Step, name string) error {
	if rec.Name != name {
		return &DeterminismError{WorkflowID: s.id, StepID: n, Recorded: rec.Name, Called: name}
	}
	return nil
}

// record records a step of this workflow, fenced on its owner. A step
// recorded differently by an earlier run fails the run, which then
// replays with that record.
func (s *wfState) record(ctx context.Context, step store.Step) error {
	err := s.recordOrConflict(ctx, step)
	if errors.Is(err, store.ErrConflict) {
		return s.fail(fmt.Errorf("%w: %w", ErrSystemDatabase, err))
	}
	return err
}

// recordOrConflict is record, but returns store.ErrConflict for a step
// recorded differently, so the caller can read that record back.
func (s *wfState) recordOrConflict(ctx context.Context, step store.Step) error {
	err := s.eng.store.RecordStep(context.WithoutCancel(ctx), store.StepParams{Owner: s.owner, Step: step})
	if err == nil || errors.Is(err, store.ErrConflict) {
		return err
	}
	return s.writeErr(err)
}

// writeErr turns a store error met while recording an operation into what
// the workflow sees. A cancel stops the run as cancelled; anything else —
// another instance owning the workflow, a database error — fails the run
// so that it ends without an outcome: only the workflow's own code
// decides that it ends in ERROR.
func (s *wfState) writeErr(err error) error {
	switch {
	case errors.Is(err, store.ErrCancelled):
		s.eng.cancelLocal(s.id, nil)
		return fmt.Errorf("workflow %s: %w", s.id, ErrWorkflowCancelled)
	case errors.Is(err, store.ErrNotOwner), errors.Is(err, store.ErrInstanceLost):
		return s.fail(fmt.Errorf("workflow %s: %w", s.id, errNotOwner))
	}
	return s.fail(fmt.Errorf("%w: %w", ErrSystemDatabase, err))
}

// fail makes err the run's failure, unless it has one, and returns the
// failure.
func (s *wfState) fail(err error) error {
	s.mu.Lock()
	defer s.mu.Unlock()
	if s.failed == nil {
		s.failed = err
	}
	return s.failed
}

// failure returns the run's failure, if any.
func (s *wfState) failure() error {
	s.mu.Lock()
	defer s.mu.Unlock()
	return s.failed
}

// skip consumes a step number without using it.
func (s *wfState) skip() {
	s.mu.Lock()
	s.last++
	s.mu.Unlock()
}

// WorkflowID returns the ID of the workflow running in ctx, or "" outside
// a workflow.
func WorkflowID(ctx context.Context) string {
	if st := stateFrom(ctx); st != nil {
		return st.id
	}
	return ""
}
