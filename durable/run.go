package durable

import (
	"context"
	"errors"
	"fmt"
	"runtime/debug"

	"github.com/dboslite/dboslite/store"
)

// run is one execution of a workflow in this process. done closes when it
// ends; then value and err hold what the function returned, and status
// what was recorded.
type run struct {
	id     string
	done   chan struct{}
	value  any    // the function's output
	output []byte // its encoding, as recorded
	err    error
	status store.Status
}

// launch runs a PENDING workflow in a new goroutine unless it is already
// running in this process. steps are the steps recorded by earlier runs.
// It reports the run, and whether this call started it.
func (e *Engine) launch(reg *registration, wf store.Workflow, steps []store.Step) (*run, bool, error) {
	e.mu.Lock()
	if r, ok := e.active[wf.ID]; ok {
		e.mu.Unlock()
		return r, false, nil
	}
	if e.state != stateLaunched {
		e.mu.Unlock()
		if e.state == stateNew {
			return nil, false, ErrNotLaunched
		}
		return nil, false, ErrShutdown
	}
	r := &run{id: wf.ID, done: make(chan struct{})}
	e.active[wf.ID] = r
	e.runs.Add(1)
	e.mu.Unlock()

	st := &wfState{eng: e, id: wf.ID, name: wf.Name}
	if len(steps) > 0 {
		st.recorded = make(map[int]store.Step, len(steps))
		for _, s := range steps {
			st.recorded[s.StepID] = s
		}
	}
	go e.execute(r, reg, st, wf.Input)
	return r, true, nil
}

// execute calls the workflow function and records its outcome, unless the
// engine shut down under it: then the workflow stays PENDING for the next
// Launch.
func (e *Engine) execute(r *run, reg *registration, st *wfState, input []byte) {
	defer e.runs.Done()
	defer func() {
		e.mu.Lock()
		delete(e.active, r.id)
		e.mu.Unlock()
		close(r.done)
	}()

	ctx := withState(e.life, st)
	value, err := call(func() (any, error) { return reg.exec(ctx, input) })
	if err != nil && e.life.Err() != nil {
		r.status, r.err = store.StatusPending, fmt.Errorf("workflow %s interrupted: %w", r.id, ErrShutdown)
		return
	}
	p := store.OutcomeParams{WorkflowID: r.id, Status: store.StatusSuccess, Now: e.now()}
	if err == nil {
		if p.Output, err = e.encode("output of workflow "+r.id, value); err != nil {
			value = nil
		}
	}
	if err != nil {
		p.Status, p.Output, p.Error = store.StatusError, nil, encodeError(err)
	}
	updated, serr := e.store.SetOutcome(context.WithoutCancel(ctx), p)
	switch {
	case serr != nil:
		e.log.Error("durable: record workflow outcome", "workflow", r.id, "err", serr)
		r.status, r.err = store.StatusPending, serr
	case updated:
		r.status, r.value, r.output, r.err = p.Status, value, p.Output, err
	default:
		// Someone else ended it first (a cancel, another process): the
		// recorded outcome wins.
		r.status = store.StatusPending
		if wf, gerr := e.store.GetWorkflow(context.WithoutCancel(ctx), r.id); gerr == nil {
			r.status = wf.Status
		}
	}
}

// call runs fn and turns a panic into a *PanicError.
func call[T any](fn func() (T, error)) (v T, err error) {
	defer func() {
		if p := recover(); p != nil {
			var zero T
			v, err = zero, &PanicError{Value: p, Stack: string(debug.Stack())}
		}
	}()
	return fn()
}

// outcome turns a finished workflow row into its result bytes and error.
func outcome(wf store.Workflow) ([]byte, error) {
	switch wf.Status {
	case store.StatusSuccess:
		return wf.Output, nil
	case store.StatusError:
		return nil, decodeError(wf.Error)
	case store.StatusCancelled:
		return nil, fmt.Errorf("workflow %s: %w", wf.ID, ErrWorkflowCancelled)
	case store.StatusMaxRecoveryAttemptsExceeded:
		return nil, fmt.Errorf("workflow %s: %w (%d attempts)", wf.ID, ErrMaxRecoveryAttemptsExceeded, wf.RecoveryAttempts)
	}
	return nil, errors.New("workflow " + wf.ID + " is not finished")
}
