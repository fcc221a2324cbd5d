package durable

import (
	"bytes"
	"context"
	"errors"
	"fmt"
	"runtime"
	"strconv"
	"sync"
	"time"

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
	deadline time.Time // inherited by children
	goid     uint64    // the goroutine running the workflow function

	// wakeAt is set by a Sleep that suspends the workflow; from then on
	// durable operations (in deferred calls) do nothing.
	wakeAt time.Time

	mu       sync.Mutex
	last     int                // the last step number handed out
	recorded map[int]store.Step // steps recorded by earlier runs
}

func newState(e *Engine, wf store.Workflow, steps []store.Step) *wfState {
	st := &wfState{eng: e, id: wf.ID, name: wf.Name, deadline: wf.Deadline, goid: goid()}
	if len(steps) > 0 {
		st.recorded = make(map[int]store.Step, len(steps))
		for _, s := range steps {
			st.recorded[s.StepID] = s
		}
	}
	return st
}

// goid returns the current goroutine's ID, read from its stack header
// ("goroutine 42 [running]:"). It is used only to tell whether a long
// Sleep runs on the workflow's own goroutine, which it may unwind.
func goid() uint64 {
	var buf [64]byte
	b := buf[:runtime.Stack(buf[:], false)]
	b = bytes.TrimPrefix(b, []byte("goroutine "))
	if i := bytes.IndexByte(b, ' '); i > 0 {
		b = b[:i]
	}
	id, _ := strconv.ParseUint(string(b), 10, 64)
	return id
}

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

// next hands out the next step number and the step recorded under it by an
// earlier run, if any. It fails once the workflow is suspending or
// cancelled: durable operations stop there.
func (s *wfState) next(ctx context.Context) (int, store.Step, bool, error) {
	if errors.Is(context.Cause(ctx), ErrWorkflowCancelled) { // cancelled, or past its deadline
		return 0, store.Step{}, false, fmt.Errorf("workflow %s: %w", s.id, ErrWorkflowCancelled)
	}
	s.mu.Lock()
	defer s.mu.Unlock()
	if !s.wakeAt.IsZero() { // unwinding into a suspension
		return 0, store.Step{}, false, errSuspended
	}
	s.last++
	rec, ok := s.recorded[s.last]
	return s.last, rec, ok, nil
}

// check returns a DeterminismError if a replayed step's name differs.
func (s *wfState) check(n int, rec store.Step, name string) error {
	if rec.Name != name {
		return &DeterminismError{WorkflowID: s.id, StepID: n, Recorded: rec.Name, Called: name}
	}
	return nil
}

// WorkflowID returns the ID of the workflow running in ctx, or "" outside
// a workflow.
func WorkflowID(ctx context.Context) string {
	if st := stateFrom(ctx); st != nil {
		return st.id
	}
	return ""
}
