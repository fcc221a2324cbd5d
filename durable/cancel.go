package durable

import (
	"context"
	"errors"
	"fmt"
	"time"

	"github.com/dboslite/dboslite/store"
)

// Cancel cancels a workflow and its children: each is set CANCELLED unless
// it already ended with SUCCESS or ERROR. A workflow running in this
// process has its context cancelled, so a running step sees ctx.Done, and
// it stops at its next durable operation; a workflow running in another
// process stops at its next durable operation, or sooner where that
// process watches for cancels. Whoever waits on its result gets
// ErrWorkflowCancelled. A CANCELLED workflow is never overwritten by a
// late result. Cancelling a finished or cancelled workflow changes
// nothing; an unknown ID is ErrWorkflowNotFound.
//
// WithChildren(false) cancels the workflow alone.
func (e *Engine) Cancel(ctx context.Context, id string, opts ...TreeOption) error {
	_, err := e.cancelWorkflow(ctx, id, nil, children(opts, true))
	return err
}

// cancelWorkflow cancels a workflow and its active children, keeping reason (an
// error, or nil) as the cancellation's cause. It returns the workflow's
// row after the cancel.
func (e *Engine) cancelWorkflow(ctx context.Context, id string, reason error, withChildren bool) (store.Workflow, error) {
	wf, err := e.store.CancelWorkflow(ctx, store.CancelParams{WorkflowID: id, Reason: e.encodeError(reason), Now: e.now()})
	if errors.Is(err, store.ErrNotFound) {
		return wf, fmt.Errorf("%w: %q", ErrWorkflowNotFound, id)
	}
	if err != nil {
		return wf, fmt.Errorf("%w: cancel %s: %w", ErrSystemDatabase, id, err)
	}
	if wf.Status == store.StatusCancelled {
		e.cancelLocal(id, reason)
	}
	if !withChildren {
		return wf, nil
	}
	children, err := e.store.ListWorkflows(ctx, store.ListParams{
		ParentID: id,
		Statuses: []store.Status{store.StatusPending, store.StatusEnqueued},
	})
	if err != nil {
		return wf, fmt.Errorf("%w: cancel children of %s: %w", ErrSystemDatabase, id, err)
	}
	var errs []error
	for _, c := range children {
		if _, err := e.cancelWorkflow(ctx, c.ID, reason, true); err != nil {
			errs = append(errs, err)
		}
	}
	return wf, errors.Join(errs...)
}

// expire cancels a workflow whose deadline passed.
func (e *Engine) expire(id string) {
	if _, err := e.cancelWorkflow(e.life, id, deadlineCause(id), true); err != nil && e.life.Err() == nil {
		e.log.Error("durable: cancel workflow at its deadline", "workflow", id, "err", err)
	}
}

// cancelLocal stops a run of this process: it cancels the context of a
// running execution with cause (ErrWorkflowCancelled if nil), or ends a
// parked one.
func (e *Engine) cancelLocal(id string, cause error) {
	if cause == nil {
		cause = ErrWorkflowCancelled
	}
	e.mu.Lock()
	r := e.active[id]
	if r == nil {
		e.mu.Unlock()
		return
	}
	r.cancelled = true
	cancel, suspended := r.cancel, r.suspended
	e.mu.Unlock()
	switch {
	case cancel != nil:
		cancel(cause)
	case suspended:
		e.endCancelled(r)
	}
}

// watchCancels stops runs of this process that another process
// cancelled: while workflows run here, it watches for cancels of
// workflows this instance owns (store.KeyCancelled), then looks for those
// cancelled since its last look and cancels their contexts. Within this
// process Cancel does that directly. Without a store.Watcher, cancelled
// runs stop at their next durable operation only.
func (e *Engine) watchCancels() {
	defer e.loops.Done()
	w, ok := e.store.(store.Watcher)
	if !ok {
		return
	}
	since := e.now()
	for {
		e.mu.Lock()
		n := e.executing
		e.mu.Unlock()
		if n == 0 {
			select {
			case <-e.busy: // a workflow started running here
			case <-e.life.Done():
				return
			}
			continue
		}
		me := e.instanceID()
		ch, stop := w.Watch(e.life, store.WatchParams{Keys: []string{store.KeyCancelled(me)}})
		select {
		case <-ch:
		case <-e.idle: // nothing runs any more: nothing to look for
			stop()
			continue
		case <-e.life.Done():
			stop()
			return
		}
		stop()
		// Clocks of processes sharing a database agree only roughly.
		from, next := since.Add(-time.Second), e.now()
		cancelled, err := e.store.ListWorkflows(e.life, store.ListParams{
			Statuses: []store.Status{store.StatusCancelled}, Owner: me, UpdatedAfter: from,
		})
		if err != nil {
			if e.life.Err() == nil {
				e.log.Warn("durable: look for workflows cancelled by other processes", "err", err)
			}
			continue
		}
		since = next
		for _, wf := range cancelled {
			e.cancelLocal(wf.ID, e.decodeError(wf.Error))
		}
	}
}
