package durable

import (
	"context"
	"fmt"
	"strings"

	"github.com/dboslite/dboslite/store"
)

// Patching. A deploy that changes which steps a workflow calls, or their
// order, would make workflows recorded by the old code fail to replay
// (*DeterminismError). Patch lets the new code branch: it records a
// marker at its step number the first time a workflow reaches it, so
// that workflow keeps taking the new path on every replay, while a
// workflow that recorded something else there — it was past that point
// under the old code — replays the old path. DeprecatePatch lets a later
// release drop the old path; a release after that drops the call.

// patchPrefix begins the name of a patch marker step.
const patchPrefix = "durable.patch-"

// isPatchMarker reports whether a recorded step is a patch marker.
func isPatchMarker(stepName string) bool { return strings.HasPrefix(stepName, patchPrefix) }

// Patch reports whether the workflow running in ctx takes the new code
// path of the change called name: true for a workflow that reaches this
// call for the first time, false for one the old code took past it.
//
// At its step number Patch finds one of three things. Nothing recorded
// there or later: it records the marker (an internal step, listed by
// Steps) and returns true. Its own marker, recorded by an earlier run:
// true. Anything else — the step the old code called there: false, and
// the step number is left for that step, so the old path replays
// exactly as it was recorded. A workflow therefore decides once, and
// every replay decides the same.
//
//	if newPath, err := durable.Patch(ctx, "charge-in-cents"); err != nil {
//		return err
//	} else if newPath {
//		… the new steps …
//	} else {
//		… the old steps, unchanged …
//	}
//
// Patch works only in the workflow function, on its goroutine:
// elsewhere it returns ErrNotInWorkflow, ErrInStep or
// ErrNotWorkflowGoroutine and records nothing. An empty name is
// ErrInvalidPatch. Once no workflow that took the old path is left,
// replace the call with DeprecatePatch.
func Patch(ctx context.Context, name string) (bool, error) {
	st, err := patchState(ctx, "Patch", name)
	if err != nil {
		return false, err
	}
	n, rec, ok, err := st.next()
	if err != nil {
		return false, err
	}
	marker := patchPrefix + name
	switch {
	case ok && rec.Name == marker:
		return true, nil
	case ok || st.recordedFrom(n):
		st.giveBack(n) // the old code's step replays at n
		return false, nil
	}
	now := st.eng.now()
	step := store.Step{WorkflowID: st.id, StepID: n, Name: marker, Output: []byte("null"), StartedAt: now, CompletedAt: now}
	if err := st.record(ctx, step); err != nil {
		return false, err
	}
	return true, nil
}

// DeprecatePatch marks the place of a Patch(ctx, name) call whose old
// path was removed: the code after it is the new path, taken by every
// workflow. A workflow that recorded the patch's marker here replays it;
// any other records nothing, so once no workflow with the marker is
// left, a later release can delete the DeprecatePatch call too. It has
// Patch's errors and records nothing when it returns one.
func DeprecatePatch(ctx context.Context, name string) error {
	st, err := patchState(ctx, "DeprecatePatch", name)
	if err != nil {
		return err
	}
	n, rec, ok, err := st.next()
	if err != nil {
		return err
	}
	if !ok || rec.Name != patchPrefix+name {
		st.giveBack(n)
	}
	return nil
}

// patchState returns the workflow running in ctx, or why op cannot run.
func patchState(ctx context.Context, op, name string) (*wfState, error) {
	st := stateFrom(ctx)
	switch {
	case st == nil:
		return nil, fmt.Errorf("%w: %s", ErrNotInWorkflow, op)
	case inStep(ctx):
		return nil, fmt.Errorf("%w: %s", ErrInStep, op)
	case name == "":
		return nil, fmt.Errorf("%w: %s needs a name", ErrInvalidPatch, op)
	}
	return st, nil
}

// recordedFrom reports whether an earlier run recorded a step numbered n
// or more: steps started with Go may be recorded out of order, so a
// workflow may have gone past n without recording n.
func (s *wfState) recordedFrom(n int) bool {
	s.mu.Lock()
	defer s.mu.Unlock()
	for id := range s.recorded {
		if id >= n {
			return true
		}
	}
	return false
}

// giveBack returns step number n, just handed out by next, unused: the
// next operation takes it.
func (s *wfState) giveBack(n int) {
	s.mu.Lock()
	defer s.mu.Unlock()
	if s.last == n {
		s.last--
	}
}
