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
func Retrieve[Out any](ctx context.Context, sys System, id string) (*Handle[Out], error) {
	e := sys.engine()
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

// Status returns the workflow's status as recorded now.
func (h *Handle[Out]) Status(ctx context.Context) (WorkflowStatus, error) {
	wf, err := h.eng.store.GetWorkflow(ctx, h.id)
	if errors.Is(err, store.ErrNotFound) {
		return WorkflowStatus{}, fmt.Errorf("%w: %q", ErrWorkflowNotFound, h.id)
	}
	if err != nil {
		return WorkflowStatus{}, err
	}
	return h.eng.status(wf), nil
}

// Result waits for the workflow to finish and returns its output, or its
// error: the error as recorded (a *RecordedError; see RegisterError),
// or one matching ErrWorkflowCancelled (and ErrDeadlineExceeded when the
// deadline cancelled it) or ErrMaxRecoveryAttemptsExceeded for those
// statuses. The answer is the same whenever and wherever it is asked: in
// the process that ran the workflow, right after it ended, or in another
// one a day later. Called from a workflow, the result is recorded as a
// step of that workflow.
func (h *Handle[Out]) Result(ctx context.Context) (Out, error) {
	var zero Out
	st := stateFrom(ctx)
	if st == nil || inStep(ctx) {
		out, err := h.eng.await(ctx, h.id, h.run)
		if err != nil {
			return zero, err
		}
		return decode[Out](h.eng, "output of workflow "+h.id, out)
	}
	n, rec, ok, err := st.next()
	if err != nil {
		return zero, err
	}
	if ok {
		return replayStep[Out](st, n, rec, getResultStep)
	}
	started := h.eng.now()
	out, err := h.eng.await(ctx, h.id, h.run)
	if err != nil {
		if stop := st.halted(); stop != nil {
			return zero, stop // interrupted, not a result: record nothing
		}
		if errors.Is(err, ErrShutdown) || errors.Is(err, ErrSystemDatabase) {
			return zero, st.fail(err)
		}
	}
	step := store.Step{WorkflowID: st.id, StepID: n, Name: getResultStep, Output: out, Error: h.eng.encodeError(err),
		ChildID: h.id, StartedAt: started, CompletedAt: h.eng.now()}
	if rerr := st.recordOrConflict(ctx, step); rerr != nil {
		if errors.Is(rerr, store.ErrConflict) {
			return recordedStep[Out](ctx, st, n, getResultStep)
		}
		return zero, rerr
	}
	return replayStep[Out](st, n, step, getResultStep)
}

// await waits for a workflow to finish and returns its recorded output or
// its error: from its run when it ends in this process, else from the
// store, woken when its row changes.
func (e *Engine) await(ctx context.Context, id string, r *run) ([]byte, error) {
	if r == nil {
		r = e.activeRun(id)
	}
	if r != nil {
		select {
		case <-r.done:
		case <-ctx.Done():
			return nil, context.Cause(ctx)
		}
		if r.status.Terminal() {
			return e.outcome(id, r.status, r.output, r.errData)
		}
		if e.life.Err() != nil {
			return nil, fmt.Errorf("workflow %s interrupted: %w", id, ErrShutdown)
		}
		// It ended here without an outcome: another instance runs it now.
	}
	var wf store.Workflow
	err := e.wait(ctx, time.Time{}, func() (bool, error) {
		var err error
		wf, err = e.store.GetWorkflow(ctx, id)
		if errors.Is(err, store.ErrNotFound) {
			return false, fmt.Errorf("%w: %q", ErrWorkflowNotFound, id)
		}
		if err != nil {
			return false, fmt.Errorf("%w: %w", ErrSystemDatabase, err)
		}
		return wf.Status.Terminal(), nil
	}, store.KeyWorkflow(id))
	if err != nil {
		return nil, err
	}
	return e.outcome(id, wf.Status, wf.Output, wf.Error)
}
