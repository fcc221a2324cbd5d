package durable

import (
	"context"
	"errors"
	"fmt"
	"time"

	"github.com/dboslite/dboslite/store"
)

// getResultStep names the step that records a child's result in its
// parent.
const getResultStep = "durable.getResult"

// Handle refers to one workflow, wherever it runs.
type Handle[Out any] struct {
	eng *Engine
	id  string
	run *run // set when the workflow runs in this process
}

// Retrieve returns a handle to the workflow with this ID, or an error
// wrapping ErrWorkflowNotFound.
func Retrieve[Out any](ctx context.Context, e *Engine, id string) (*Handle[Out], error) {
	if _, err := e.store.GetWorkflow(ctx, id); err != nil {
		if errors.Is(err, store.ErrNotFound) {
			return nil, fmt.Errorf("%w: %q", ErrWorkflowNotFound, id)
		}
		return nil, err
	}
	return &Handle[Out]{eng: e, id: id, run: e.activeRun(id)}, nil
}

// ID returns the workflow's ID.
func (h *Handle[Out]) ID() string { return h.id }

// Status returns the workflow's status row as recorded now.
func (h *Handle[Out]) Status(ctx context.Context) (store.Workflow, error) {
	wf, err := h.eng.store.GetWorkflow(ctx, h.id)
	if errors.Is(err, store.ErrNotFound) {
		return wf, fmt.Errorf("%w: %q", ErrWorkflowNotFound, h.id)
	}
	return wf, err
}

// Result waits for the workflow to finish and returns its output, or its
// error: the error value itself when the workflow ran in this process, a
// *RecordedError with the same message when it ran before a restart or
// elsewhere, ErrWorkflowCancelled or ErrMaxRecoveryAttemptsExceeded for
// those statuses. Called from a workflow, the result is recorded as a step
// of that workflow.
func (h *Handle[Out]) Result(ctx context.Context) (Out, error) {
	var zero Out
	st := stateFrom(ctx)
	if st == nil || inStep(ctx) {
		value, out, err := h.eng.await(ctx, h.id, h.run)
		if err != nil {
			return zero, err
		}
		return typed[Out](h.eng, h.id, value, out)
	}
	n, rec, ok, err := st.next(ctx)
	if err != nil {
		return zero, err
	}
	if ok {
		if err := st.check(n, rec, getResultStep); err != nil {
			return zero, err
		}
		if rec.Error != nil {
			return zero, decodeError(rec.Error)
		}
		return decode[Out](h.eng, "result of "+h.id, rec.Output)
	}
	started := h.eng.now()
	value, out, err := h.eng.await(ctx, h.id, h.run)
	if err != nil && ctx.Err() != nil {
		return zero, err // interrupted, not a result: record nothing
	}
	step := store.Step{WorkflowID: st.id, StepID: n, Name: getResultStep, Output: out, Error: encodeError(err),
		ChildID: h.id, StartedAt: started, CompletedAt: h.eng.now()}
	if rerr := h.eng.store.RecordStep(context.WithoutCancel(ctx), step); rerr != nil {
		return zero, h.eng.writeErr(st.id, rerr)
	}
	if err != nil {
		return zero, err
	}
	return typed[Out](h.eng, h.id, value, out)
}

// typed returns the live value if it has the requested type, else decodes
// the recorded output.
func typed[Out any](e *Engine, id string, value any, out []byte) (Out, error) {
	if v, ok := value.(Out); ok {
		return v, nil
	}
	return decode[Out](e, "output of workflow "+id, out)
}

// await waits for a workflow to finish: on its run when it runs in this
// process, else by polling the store with back-off.
func (e *Engine) await(ctx context.Context, id string, r *run) (any, []byte, error) {
	if r == nil {
		r = e.activeRun(id)
	}
	if r != nil {
		select {
		case <-r.done:
		case <-ctx.Done():
			return nil, nil, ctx.Err()
		}
		switch r.status {
		case store.StatusSuccess:
			return r.value, r.output, nil
		case store.StatusError:
			return nil, nil, r.err
		case store.StatusPending:
			if r.err != nil {
				return nil, nil, r.err
			}
		}
		// Ended otherwise (cancelled, or by another process): read the record.
	}
	var wf store.Workflow
	err := e.wait(ctx, time.Time{}, func() (bool, error) {
		var err error
		wf, err = e.store.GetWorkflow(ctx, id)
		if errors.Is(err, store.ErrNotFound) {
			return false, fmt.Errorf("%w: %q", ErrWorkflowNotFound, id)
		}
		return err == nil && wf.Status.Terminal(), err
	}, store.KeyWorkflow(id))
	if err != nil {
		return nil, nil, err
	}
	out, err := outcome(wf)
	return nil, out, err
}
