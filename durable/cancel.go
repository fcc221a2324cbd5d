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
// process stops at its next durable operation. Whoever waits on its result
// gets ErrWorkflowCancelled. A CANCELLED workflow is never overwritten by a
// late result.
func (e *Engine) Cancel(ctx context.Context, id string) error {
	wf, err := e.store.CancelWorkflow(ctx, store.CancelParams{WorkflowID: id, Now: e.now()})
	if errors.Is(err, store.ErrNotFound) {
		return fmt.Errorf("%w: %q", ErrWorkflowNotFound, id)
	}
	if err != nil {
		return err
	}
	if wf.Status == store.StatusCancelled {
		e.cancelLocal(id)
	}
	children, err := e.store.ListWorkflows(ctx, store.ListParams{
		ParentID: id,
		Statuses: []store.Status{store.StatusPending, store.StatusEnqueued},
	})
	if err != nil {
		return fmt.Errorf("cancel children of %s: %w", id, err)
	}
	for _, c := range children {
		if err := e.Cancel(ctx, c.ID); err != nil {
			return err
		}
	}
	return nil
}

// expire cancels a workflow whose deadline passed.
func (e *Engine) expire(id string) {
	if err := e.Cancel(e.life, id); err != nil && e.life.Err() == nil {
		e.log.Error("durable: cancel workflow at its deadline", "workflow", id, "err", err)
	}
}

// cancelLocal stops a run of this process: it cancels the context of a
// running execution, or ends a suspended one.
func (e *Engine) cancelLocal(id string) {
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
		cancel(ErrWorkflowCancelled)
	case suspended:
		e.end(r, store.StatusCancelled, nil, nil, nil)
	}
}

// writeErr turns a store error met while recording an operation of
// workflow id into what the workflow should see.
func (e *Engine) writeErr(id string, err error) error {
	if errors.Is(err, store.ErrCancelled) {
		e.cancelLocal(id)
		return fmt.Errorf("workflow %s: %w", id, ErrWorkflowCancelled)
	}
	return fmt.Errorf("durable: %w", err)
}

// watchCancels stops runs of this process that another process cancelled:
// while workflows run here, every commit by another process (store.KeyAny)
// makes it look for workflows of this executor cancelled since its last
// look, and cancel their contexts. Within this process Cancel does that
// directly. Without a store.Watcher, cancelled runs stop at their next
// durable operation only.
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
		ch, stop := w.Watch(store.KeyAny)
		select {
		case <-ch:
		case <-e.life.Done():
			stop()
			return
		}
		stop()
		// Clocks of processes sharing a file agree only roughly.
		from, next := since.Add(-time.Second), e.now()
		cancelled, err := e.store.ListWorkflows(e.life, store.ListParams{
			Statuses: []store.Status{store.StatusCancelled}, ExecutorID: e.cfg.ExecutorID, UpdatedAfter: from,
		})
		if err != nil {
			continue
		}
		since = next
		for _, wf := range cancelled {
			e.cancelLocal(wf.ID)
		}
	}
}
