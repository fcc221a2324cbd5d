package durable

import (
	"context"
	"errors"
	"fmt"
	"time"

	"github.com/dboslite/dboslite/store"
)

const (
	setEventStep = "durable.setEvent"
	getEventStep = "durable.getEvent"
)

// SetEvent sets the event key of the workflow running in ctx to value; the
// last value wins, and GetEvent callers waiting on it wake. From the
// workflow function it is a step (a replay does not set it again and the
// value is kept in the event's history); from inside a step it is written
// directly, once per attempt.
func SetEvent(ctx context.Context, key string, value any) error {
	st := stateFrom(ctx)
	if st == nil {
		return fmt.Errorf("%w: SetEvent", ErrNotInWorkflow)
	}
	e := st.eng
	b, err := e.encode(fmt.Sprintf("event %q", key), value)
	if err != nil {
		return err
	}
	p := store.EventParams{WorkflowID: st.id, Key: key, Value: b, Owner: st.owner, Now: e.now()}
	if !inStep(ctx) {
		n, rec, ok, err := st.next()
		if err != nil {
			return err
		}
		if ok {
			return st.check(n, rec, setEventStep)
		}
		p.Step = &store.Step{WorkflowID: st.id, StepID: n, Name: setEventStep, Output: []byte("null"), StartedAt: p.Now, CompletedAt: p.Now}
	}
	if err := e.store.SetEvent(context.WithoutCancel(ctx), p); err != nil {
		if !inStep(ctx) {
			return st.writeErr(err)
		}
		return fmt.Errorf("%w: %w", ErrSystemDatabase, err) // the step fails, and may retry
	}
	return nil
}

// GetEvent waits until the workflow workflowID has set its event key, and
// returns the value, or an error matching ErrTimeout after timeout (0
// checks once). A workflowID that names no workflow is
// ErrWorkflowNotFound, at once. Called from a workflow function it is
// checkpointed: a replay returns the recorded value, or timeout, at once
// and, after a restart, the wait lasts only what was left.
func GetEvent[T any](ctx context.Context, sys System, workflowID, key string, timeout time.Duration) (T, error) {
	e := sys.engine()
	var zero T
	if timeout < 0 {
		return zero, fmt.Errorf("%w: GetEvent(%q, %v)", ErrInvalidTimeout, key, timeout)
	}
	what := fmt.Sprintf("event %q of %s", key, workflowID)
	st := stateFrom(ctx)
	if st == nil || inStep(ctx) {
		b, err := e.awaitEvent(ctx, workflowID, key, e.now().Add(timeout))
		if err != nil {
			return zero, err
		}
		return decode[T](e, what, b)
	}
	n, rec, ok, err := st.next()
	if err != nil {
		return zero, err
	}
	if ok {
		st.skip()
		return replayStep[T](st, n, rec, getEventStep)
	}
	deadline, err := st.wakeTime(ctx, timeout)
	if err != nil {
		return zero, err
	}
	b, err := e.awaitEvent(ctx, workflowID, key, deadline)
	switch {
	case errors.Is(err, ErrTimeout):
		return zero, st.recordTimeout(ctx, n, getEventStep, what)
	case errors.Is(err, ErrSystemDatabase):
		return zero, st.fail(err)
	case err != nil && st.halted() != nil:
		return zero, st.halted()
	}
	now := e.now()
	step := store.Step{WorkflowID: st.id, StepID: n, Name: getEventStep, Output: b, Error: e.encodeError(err),
		StartedAt: now, CompletedAt: now}
	if err := st.record(ctx, step); err != nil {
		return zero, err
	}
	return replayStep[T](st, n, step, getEventStep)
}

// awaitEvent waits for an event of an existing workflow until deadline.
func (e *Engine) awaitEvent(ctx context.Context, workflowID, key string, deadline time.Time) ([]byte, error) {
	if _, err := e.store.GetWorkflow(ctx, workflowID); err != nil {
		if errors.Is(err, store.ErrNotFound) {
			return nil, fmt.Errorf("%w: %q", ErrWorkflowNotFound, workflowID)
		}
		return nil, fmt.Errorf("%w: %w", ErrSystemDatabase, err)
	}
	var b []byte
	err := e.wait(ctx, deadline, func() (bool, error) {
		var found bool
		var err error
		b, found, err = e.store.GetEvent(ctx, workflowID, key)
		if err != nil {
			return false, fmt.Errorf("%w: %w", ErrSystemDatabase, err)
		}
		return found, nil
	}, store.KeyEvent(workflowID, key))
	return b, err
}
