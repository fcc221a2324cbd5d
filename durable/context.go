package durable

import (
	"context"
	"sync"

	"github.com/dboslite/dboslite/store"
)

// wfState is what a running workflow's context carries: who it is, which
// steps were recorded before this run, and the next step number. The
// recorded steps are read once when the run starts; after that the engine
// writes without reading.
type wfState struct {
	eng  *Engine
	id   string
	name string

	mu       sync.Mutex
	last     int                // the last step number handed out
	recorded map[int]store.Step // steps recorded by earlier runs
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
// earlier run, if any.
func (s *wfState) next() (int, store.Step, bool) {
	s.mu.Lock()
	defer s.mu.Unlock()
	s.last++
	rec, ok := s.recorded[s.last]
	return s.last, rec, ok
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
