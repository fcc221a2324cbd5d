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
	p := store.EventParams{WorkflowID: st.id, Key: key, Value: b, Now: e.now()}
	if !inStep(ctx) {
		n, rec, ok, err := st.next(ctx)
		if err != nil {
			return err
		}
		if ok {
			return st.check(n, rec, setEventStep)
		}
		p.Step = &store.Step{WorkflowID: st.id, StepID: n, Name: setEventStep, Output: []byte("null"), StartedAt: p.Now, CompletedAt: p.Now}
	}
	if err := e.store.SetEvent(context.WithoutCancel(ctx), p); err != nil {
		return e.writeErr(st.id, err)
	}
	return nil
}

// GetEvent waits until the workflow workflowID has set its event key, and
// returns the value, or ErrTimeout after timeout (0 checks once). Called
// from a workflow it is checkpointed: a replay returns the recorded value
// at once and, after a restart, the wait lasts only what was left.
func GetEvent[T any](ctx context.Context, e *Engine, workflowID, key string, timeout time.Duration) (T, error) {
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
	n, rec, ok, err := st.next(ctx)
	if err != nil {
		return zero, err
	}
	if ok {
		st.skip()
		return recorded[T](st, n, rec, getEventStep)
	}
	deadline, err := st.wakeTime(ctx, timeout)
	if err != nil {
		return zero, err
	}
	b, err := e.awaitEvent(ctx, workflowID, key, deadline)
	if errors.Is(err, ErrTimeout) {
		return zero, st.recordTimeout(ctx, n, getEventStep)
	}
	if err != nil {
		return zero, err
	}
	now := e.now()
	step := store.Step{WorkflowID: st.id, StepID: n, Name: getEventStep, Output: b, StartedAt: now, CompletedAt: now}
	if err := e.store.RecordStep(context.WithoutCancel(ctx), step); err != nil {
		return zero, e.writeErr(st.id, err)
	}
	return decode[T](e, what, b)
}

func (e *Engine) awaitEvent(ctx context.Context, workflowID, key string, deadline time.Time) ([]byte, error) {
	var b []byte
	err := e.wait(ctx, deadline, func() (bool, error) {
		var found bool
		var err error
		b, found, err = e.store.GetEvent(ctx, workflowID, key)
		return found, err
	}, store.KeyEvent(workflowID, key))
	return b, err
}
