package durable

import (
	"context"
	"errors"
	"fmt"
	"runtime/debug"
	"time"

	"github.com/dboslite/dboslite/store"
)

// run is a workflow executing in this process, from its start or recovery
// until it ends. It outlives its goroutine while it is suspended in a long
// Sleep. done closes when it ends; then status, value, output and err say
// how.
type run struct {
	id    string
	reg   *registration
	queue *dispatcher // the queue that started it, if any: told when it ends

	// Guarded by Engine.mu.
	cancel    context.CancelCauseFunc // cancels the current execution; nil while suspended
	cancelled bool                    // Cancel was called
	deadline  *time.Timer             // cancels the workflow at its deadline
	suspended bool                    // parked in a long Sleep, without a goroutine
	ended     bool

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
	r := &run{id: wf.ID, reg: reg, done: make(chan struct{})}
	if wf.QueueName != "" {
		r.queue = e.queues[wf.QueueName]
	}
	e.active[wf.ID] = r
	e.runs.Add(1)
	if !wf.Deadline.IsZero() {
		r.deadline = time.AfterFunc(wf.Deadline.Sub(e.now()), func() { e.expire(wf.ID) })
	}
	e.mu.Unlock()
	go e.execute(r, wf, steps)
	return r, true, nil
}

// execute calls the workflow function once, replaying steps, and records
// its outcome. It leaves the workflow PENDING if the engine shut down under
// it, and keeps the run, without a goroutine, if the workflow suspended in
// a long Sleep.
func (e *Engine) execute(r *run, wf store.Workflow, steps []store.Step) {
	ctx, cancel := context.WithCancelCause(e.life)
	if !wf.Deadline.IsZero() {
		// Steps see the deadline on their context; the timer set in launch
		// records the cancellation.
		var stop context.CancelFunc
		ctx, stop = context.WithDeadlineCause(ctx, wf.Deadline, ErrWorkflowCancelled)
		defer stop()
	}
	e.mu.Lock()
	r.cancel = cancel
	if r.cancelled {
		cancel(ErrWorkflowCancelled)
	}
	if e.executing++; e.executing == 1 {
		select {
		case e.busy <- struct{}{}:
		default:
		}
	}
	e.mu.Unlock()
	st := newState(e, wf, steps)
	returned := false
	defer func() {
		cancel(nil)
		e.mu.Lock()
		e.executing--
		e.mu.Unlock()
		if !returned { // runtime.Goexit: a suspension, or user code quit
			if !st.wakeAt.IsZero() {
				e.suspend(r, st.wakeAt)
			} else {
				e.end(r, store.StatusPending, nil, nil, fmt.Errorf("workflow %s: its goroutine exited (runtime.Goexit) without returning", r.id))
			}
		}
		e.runs.Done()
	}()

	value, err := call(func() (any, error) { return r.reg.exec(withState(ctx, st), wf.Input) })
	returned = true
	if err != nil && e.life.Err() != nil {
		e.end(r, store.StatusPending, nil, nil, fmt.Errorf("workflow %s interrupted: %w", r.id, ErrShutdown))
		return
	}
	if err != nil && errors.Is(context.Cause(ctx), ErrWorkflowCancelled) {
		// Cancelled, or past its deadline (which may beat the timer that
		// records it): the workflow ends CANCELLED, not with this error.
		if cerr := e.Cancel(context.WithoutCancel(ctx), r.id); cerr != nil {
			e.end(r, store.StatusPending, nil, nil, cerr)
			return
		}
		e.end(r, store.StatusCancelled, nil, nil, nil)
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
		e.end(r, store.StatusPending, nil, nil, serr)
	case updated:
		e.end(r, p.Status, value, p.Output, err)
	default:
		// Someone else ended it first (a cancel, another process): the
		// recorded outcome wins.
		status := store.StatusPending
		if wf, gerr := e.store.GetWorkflow(context.WithoutCancel(ctx), r.id); gerr == nil {
			status = wf.Status
		}
		e.end(r, status, nil, nil, nil)
	}
}

// end finishes a run once: it leaves the active set and wakes its waiters.
func (e *Engine) end(r *run, status store.Status, value any, output []byte, err error) {
	e.mu.Lock()
	if r.ended {
		e.mu.Unlock()
		return
	}
	r.ended = true
	delete(e.active, r.id)
	if r.deadline != nil {
		r.deadline.Stop()
	}
	e.mu.Unlock()
	r.status, r.value, r.output, r.err = status, value, output, err
	close(r.done)
	if r.queue != nil {
		r.queue.release()
	}
}

// suspend parks a run whose workflow sleeps until wake: no goroutine holds
// it, nor its input; at wake it is replayed from the store.
func (e *Engine) suspend(r *run, wake time.Time) {
	e.mu.Lock()
	if r.ended {
		e.mu.Unlock()
		return
	}
	r.cancel = nil
	if !r.cancelled && e.state == stateLaunched {
		r.suspended = true
		e.mu.Unlock()
		e.wakeups.add(r, wake)
		return
	}
	cancelled := r.cancelled
	e.mu.Unlock()
	if cancelled {
		e.end(r, store.StatusCancelled, nil, nil, nil)
		return
	}
	e.end(r, store.StatusPending, nil, nil, fmt.Errorf("workflow %s interrupted: %w", r.id, ErrShutdown))
}

// resume replays a suspended run once its sleep is due.
func (e *Engine) resume(r *run) {
	e.mu.Lock()
	if r.ended || e.state != stateLaunched {
		e.mu.Unlock()
		return
	}
	r.suspended = false
	e.runs.Add(1)
	e.mu.Unlock()
	wf, err := e.store.GetWorkflow(e.life, r.id)
	var steps []store.Step
	if err == nil {
		steps, err = e.store.Steps(e.life, r.id)
	}
	if err != nil {
		e.runs.Done()
		e.log.Error("durable: resume sleeping workflow; it stays PENDING", "workflow", r.id, "err", err)
		e.end(r, store.StatusPending, nil, nil, fmt.Errorf("resume workflow %s: %w", r.id, err))
		return
	}
	if wf.Status != store.StatusPending {
		// Ended while it slept, by another process (a cancel): do not
		// replay it.
		e.runs.Done()
		e.end(r, wf.Status, nil, nil, nil)
		return
	}
	e.execute(r, wf, steps)
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
