package durable

import (
	"context"
	"errors"
	"fmt"
	"runtime/debug"
	"time"

	"github.com/dboslite/dboslite/store"
)

// run is a workflow executing in this process, from its start or adoption
// until it ends here. It outlives its goroutine while it is suspended in a
// long Sleep or waits to retry after a database error. done closes when
// it ends; then status, output and errData say how, exactly as the store
// records it.
type run struct {
	id    string
	reg   *registration
	owner string      // the instance that runs it
	queue *dispatcher // the queue that started it, if any: told when it ends

	// Guarded by Engine.mu.
	cancel    context.CancelCauseFunc // cancels the current execution; nil while parked
	cancelled bool                    // Cancel was called
	deadline  *time.Timer             // cancels the workflow at its deadline
	suspended bool                    // parked, without a goroutine: in a long Sleep, or before a retry
	retries   int                     // database errors in a row
	ended     bool

	done chan struct{}
	// status is the recorded final status, or PENDING when the run ended
	// here without one (shutdown, or another instance owns it now).
	status  store.Status
	output  []byte // recorded output, on SUCCESS
	errData []byte // recorded error, on ERROR (or a cancellation's reason)
}

// launch runs a PENDING workflow in a new goroutine unless it is already
// running in this process for the same owner. steps are the steps
// recorded by earlier runs. It reports the run, and whether this call
// started it. A run of an older instance of this engine (one that was
// declared dead) may still be unwinding: the new run waits for it to end,
// so the workflow never runs twice here at once.
func (e *Engine) launch(reg *registration, wf store.Workflow, steps []store.Step) (*run, bool, error) {
	e.mu.Lock()
	old := e.active[wf.ID]
	if old != nil && old.owner == wf.Owner {
		e.mu.Unlock()
		return old, false, nil
	}
	if e.state != stateLaunched {
		e.mu.Unlock()
		if e.state == stateNew {
			return nil, false, ErrNotLaunched
		}
		return nil, false, ErrShutdown
	}
	r := &run{id: wf.ID, reg: reg, owner: wf.Owner, done: make(chan struct{})}
	if wf.QueueName != "" {
		r.queue = e.queues[wf.QueueName]
	}
	e.active[wf.ID] = r
	e.runs.Add(1)
	if !wf.Deadline.IsZero() {
		r.deadline = time.AfterFunc(wf.Deadline.Sub(e.now()), func() { e.expire(wf.ID) })
	}
	e.mu.Unlock()
	go func() {
		if old != nil {
			<-old.done // it records nothing more: another owner has the workflow
		}
		e.execute(r, wf, steps)
	}()
	return r, true, nil
}

// deadlineCause is why a workflow past its deadline stops: it is
// cancelled, and the error says it was the deadline.
func deadlineCause(id string) error {
	return fmt.Errorf("workflow %s: %w: %w", id, ErrWorkflowCancelled, ErrDeadlineExceeded)
}

// execute calls the workflow function once, replaying steps, and records
// its outcome. It keeps the run, without a goroutine, if the workflow
// suspended in a long Sleep or must retry after a database error.
func (e *Engine) execute(r *run, wf store.Workflow, steps []store.Step) {
	ctx, cancel := context.WithCancelCause(e.life)
	if !wf.Deadline.IsZero() {
		// Steps see the deadline on their context; the timer set in launch
		// records the cancellation.
		var stop context.CancelFunc
		ctx, stop = context.WithDeadlineCause(ctx, wf.Deadline, deadlineCause(wf.ID))
		defer stop()
	}
	ctx, span := e.startRun(ctx, wf)
	e.mu.Lock()
	r.cancel = cancel
	if r.cancelled {
		cancel(ErrWorkflowCancelled)
	}
	if e.executing++; e.executing == 1 {
		signal(e.busy)
	}
	e.mu.Unlock()
	st := newState(e, r, wf, steps, ctx)
	returned := false
	defer func() {
		cancel(nil)
		e.mu.Lock()
		if e.executing--; e.executing == 0 {
			signal(e.idle)
		}
		e.mu.Unlock()
		if !returned { // runtime.Goexit: a suspension, or user code quit
			if !st.wakeAt.IsZero() {
				e.suspend(r, st.wakeAt)
			} else {
				e.log.Error("durable: a workflow's goroutine exited (runtime.Goexit) without returning; it stays PENDING", "workflow", r.id)
				e.end(r, store.StatusPending, nil, nil)
			}
		}
		e.endRun(span, r)
		e.runs.Done()
	}()

	value, err := call(func() (any, error) { return r.reg.exec(withState(ctx, st), wf.Input) })
	returned = true
	e.finish(ctx, r, st, value, err)
}

// finish records how an execution ended. Only the workflow's own code
// decides an outcome: a database error parks the run for a retry, and a
// run whose workflow another instance owns now ends here without one.
func (e *Engine) finish(ctx context.Context, r *run, st *wfState, value any, err error) {
	wctx := context.WithoutCancel(ctx)
	if f := st.failure(); f != nil {
		if errors.Is(f, errNotOwner) {
			e.end(r, store.StatusPending, nil, nil)
			return
		}
		e.retryLater(r, f)
		return
	}
	cause := context.Cause(ctx)
	switch {
	case errors.Is(cause, errNotOwner):
		e.end(r, store.StatusPending, nil, nil)
		return
	case err != nil && e.life.Err() != nil:
		e.end(r, store.StatusPending, nil, nil) // shutdown: runs again later
		return
	case err != nil && errors.Is(cause, ErrWorkflowCancelled):
		// Cancelled, or past its deadline (which may beat the timer that
		// records it): the workflow ends CANCELLED, not with this error.
		var reason error
		if errors.Is(cause, ErrDeadlineExceeded) {
			reason = cause
		}
		// The deadline reaches the children; a cancel by hand already did,
		// or was told not to.
		wf, cerr := e.cancelWorkflow(wctx, r.id, reason, reason != nil)
		if cerr != nil {
			e.retryLater(r, cerr)
			return
		}
		e.end(r, wf.Status, wf.Output, wf.Error)
		return
	}
	p := store.OutcomeParams{WorkflowID: r.id, Status: store.StatusSuccess, Owner: r.owner, Now: e.now()}
	if err == nil {
		p.Output, err = e.encode("output of workflow "+r.id, value)
	}
	if err != nil {
		p.Status, p.Output, p.Error = store.StatusError, nil, e.encodeError(err)
	}
	updated, serr := e.store.SetOutcome(wctx, p)
	switch {
	case errors.Is(serr, store.ErrNotOwner):
		e.end(r, store.StatusPending, nil, nil)
	case serr != nil:
		e.retryLater(r, serr)
	case updated:
		e.end(r, p.Status, p.Output, p.Error)
	default:
		// Someone else ended it first (a cancel, another process): the
		// recorded outcome wins.
		wf, gerr := e.store.GetWorkflow(wctx, r.id)
		if gerr != nil {
			e.end(r, store.StatusPending, nil, nil) // waiters read the store
			return
		}
		e.end(r, wf.Status, wf.Output, wf.Error)
	}
}

// end finishes a run once: it leaves the active set and wakes its waiters.
func (e *Engine) end(r *run, status store.Status, output, errData []byte) {
	e.mu.Lock()
	if r.ended {
		e.mu.Unlock()
		return
	}
	r.ended = true
	if e.active[r.id] == r { // a newer run may have taken its place: see launch
		delete(e.active, r.id)
	}
	if r.deadline != nil {
		r.deadline.Stop()
	}
	e.mu.Unlock()
	r.status, r.output, r.errData = status, output, errData
	close(r.done)
	if r.queue != nil {
		r.queue.release()
	}
}

// Retries after a database error wait from retryMin, doubling up to
// retryMax.
const (
	retryMin = 50 * time.Millisecond
	retryMax = 30 * time.Second
)

// retryLater parks a run that met a database error: it stays PENDING and
// is replayed from the store after a back-off, in this process.
func (e *Engine) retryLater(r *run, cause error) {
	e.mu.Lock()
	if r.ended {
		e.mu.Unlock()
		return
	}
	r.cancel = nil
	if r.cancelled || e.state != stateLaunched {
		e.mu.Unlock()
		e.end(r, store.StatusPending, nil, nil)
		return
	}
	d := retryMin << min(r.retries, 20)
	d = min(d, retryMax)
	r.retries++
	r.suspended = true
	e.mu.Unlock()
	e.log.Warn("durable: system database error; the workflow stays PENDING and runs again", "workflow", r.id,
		"retry_in", d, "err", cause)
	e.wakeups.add(r, e.now().Add(d))
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
		e.endCancelled(r)
		return
	}
	e.end(r, store.StatusPending, nil, nil)
}

// endCancelled ends a run whose workflow was cancelled, with the record.
func (e *Engine) endCancelled(r *run) {
	wf, err := e.store.GetWorkflow(context.Background(), r.id)
	if err != nil || wf.Status != store.StatusCancelled {
		e.end(r, store.StatusPending, nil, nil) // waiters read the store
		return
	}
	e.end(r, wf.Status, wf.Output, wf.Error)
}

// resume replays a parked run: its sleep is due, or its retry.
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
	if err == nil && wf.Status == store.StatusPending && wf.Owner == r.owner {
		steps, err = e.store.Steps(e.life, r.id)
	}
	switch {
	case err != nil:
		e.runs.Done()
		e.retryLater(r, fmt.Errorf("resume workflow %s: %w", r.id, err))
	case wf.Status != store.StatusPending:
		// Ended while it was parked, by another process (a cancel): do
		// not replay it.
		e.runs.Done()
		e.end(r, wf.Status, wf.Output, wf.Error)
	case wf.Owner != r.owner:
		e.runs.Done()
		e.end(r, store.StatusPending, nil, nil) // adopted by another instance
	default:
		e.execute(r, wf, steps)
	}
}

// signal wakes whoever waits on ch, if nobody was woken already.
func signal(ch chan struct{}) {
	select {
	case ch <- struct{}{}:
	default:
	}
}

// call runs fn and turns a panic into a *PanicError.
func call[T any](fn func() (T, error)) (v T, err error) {
	defer func() {
		if p := recover(); p != nil {
			var zero T
			v, err = zero, &PanicError{Value: fmt.Sprint(p), Stack: string(debug.Stack())}
		}
	}()
	return fn()
}

// outcome is what waiting on a finished workflow returns: its output, or
// its error as a replay would see it.
func (e *Engine) outcome(id string, status store.Status, output, errData []byte) ([]byte, error) {
	switch status {
	case store.StatusSuccess:
		return output, nil
	case store.StatusError:
		return nil, e.decodeError(errData)
	case store.StatusCancelled:
		if len(errData) > 0 {
			return nil, e.decodeError(errData) // a reason: the deadline
		}
		return nil, fmt.Errorf("workflow %s: %w", id, ErrWorkflowCancelled)
	case store.StatusMaxRecoveryAttemptsExceeded:
		return nil, fmt.Errorf("workflow %s: %w", id, ErrMaxRecoveryAttemptsExceeded)
	}
	return nil, errors.New("workflow " + id + " is not finished")
}
