package durable

import (
	"context"
	"errors"
	"fmt"
	"time"

	"github.com/dboslite/dboslite/store"
)

// StartOption configures one start of a workflow. Make one with WithID,
// WithTimeout, Detached, WithQueue and the other queue options.
type StartOption struct{ apply func(*startOptions) }

type startOptions struct {
	id       string
	idGiven  bool
	timeout  time.Duration
	detached bool
	q        enqueueOptions
}

func startOpts(opts []StartOption) startOptions {
	var o startOptions
	for _, opt := range opts {
		if opt.apply != nil {
			opt.apply(&o)
		}
	}
	return o
}

// WithID gives the workflow its ID instead of a new ULID. Starting an ID
// that exists returns that workflow (its result, once finished) and never
// runs it twice. An empty ID is ErrInvalidID.
func WithID(id string) StartOption {
	return StartOption{func(o *startOptions) { o.id, o.idGiven = id, true }}
}

// WithTimeout gives the workflow a durable deadline, timeout from its
// start: at the deadline it is cancelled, with its children, even if the
// process restarted in between. A child inherits its parent's deadline
// unless it has a timeout of its own or is Detached. With WithQueue the
// timeout starts when the workflow leaves its queue.
func WithTimeout(timeout time.Duration) StartOption {
	return StartOption{func(o *startOptions) { o.timeout = timeout }}
}

// Detached starts a child workflow independent of its parent: it does not
// inherit the parent's deadline and is not cancelled with it. The start is
// still a step of the parent.
func Detached() StartOption { return StartOption{func(o *startOptions) { o.detached = true }} }

// Start starts the workflow and returns at once with a handle to it. The
// workflow runs in its own goroutine, under the engine's lifetime rather
// than ctx: cancelling ctx stops only the waiting for the start.
//
// Called from inside a workflow, Start makes a child workflow with the ID
// "<parent ID>-<step number>" unless WithID gives one; the start is a step
// of the parent, so a replay of the parent returns the same child.
func (w *Workflow[In, Out]) Start(ctx context.Context, in In, opts ...StartOption) (*Handle[Out], error) {
	id, r, err := w.eng.start(ctx, w.reg, in, startOpts(opts))
	if err != nil {
		return nil, err
	}
	return &Handle[Out]{eng: w.eng, id: id, run: r}, nil
}

// Run starts the workflow and waits for its result.
func (w *Workflow[In, Out]) Run(ctx context.Context, in In, opts ...StartOption) (Out, error) {
	h, err := w.Start(ctx, in, opts...)
	if err != nil {
		var zero Out
		return zero, err
	}
	return h.Result(ctx)
}

// Retrieve returns a handle to the workflow with this ID.
func (w *Workflow[In, Out]) Retrieve(ctx context.Context, id string) (*Handle[Out], error) {
	return Retrieve[Out](ctx, w.eng, id)
}

// start records a workflow and runs it, or finds the one recorded under
// the same ID. It returns the ID and, if it runs in this process, its run.
func (e *Engine) start(ctx context.Context, reg *registration, in any, o startOptions) (string, *run, error) {
	if err := e.checkRunning(); err != nil {
		return "", nil, err
	}
	parent := stateFrom(ctx)
	if parent != nil && inStep(ctx) {
		return "", nil, fmt.Errorf("%w: start %q", ErrInStep, reg.name)
	}
	if o.idGiven && o.id == "" {
		return "", nil, fmt.Errorf("%w: WithID(\"\") given to start %q", ErrInvalidID, reg.name)
	}
	if o.timeout < 0 {
		return "", nil, fmt.Errorf("%w: WithTimeout(%v)", ErrInvalidTimeout, o.timeout)
	}
	if err := e.checkEnqueue(o.q); err != nil {
		return "", nil, err
	}
	var stepID int
	if parent != nil {
		n, rec, ok, err := parent.next()
		if err != nil {
			return "", nil, err
		}
		if ok {
			return e.replayChild(parent, n, rec, reg.name)
		}
		stepID = n
		if o.id == "" {
			o.id = fmt.Sprintf("%s-%d", parent.id, n)
		}
	}
	if o.id == "" {
		o.id = e.cfg.NewID()
	}
	input, err := e.encode("input of workflow "+reg.name, in)
	if err != nil {
		return "", nil, err
	}
	p := store.WorkflowCreateParams{
		ID:                 o.id,
		Name:               reg.name,
		Input:              input,
		ExecutorID:         e.cfg.ExecutorID,
		Owner:              e.instanceID(),
		ApplicationVersion: e.cfg.ApplicationVersion,
		ApplicationName:    e.cfg.AppName,
		TraceContext:       e.traceParent(ctx), // a child's: its parent's span
		Now:                e.now(),
	}
	if o.q.version != "" {
		p.ApplicationVersion = o.q.version
	}
	if o.timeout > 0 {
		p.Deadline = p.Now.Add(o.timeout)
	}
	if parent != nil && !o.detached {
		p.ParentID = parent.id
		if o.timeout == 0 {
			p.Deadline = parent.deadline
		}
	}
	var wf store.Workflow
	var created bool
	if o.q.queue != "" {
		wf, created, err = e.enqueue(ctx, p, o)
	} else {
		wf, created, err = e.store.CreateWorkflow(ctx, p)
	}
	var dedup *DeduplicatedError
	if err == nil && !created && wf.Name != reg.name {
		err = fmt.Errorf("%w: %s is a %q workflow, not %q", ErrConflictingWorkflow, wf.ID, wf.Name, reg.name)
	}
	switch {
	case (errors.As(err, &dedup) || errors.Is(err, ErrConflictingWorkflow)) && parent != nil:
		// Recorded, so a replay fails the same way without starting.
		step := store.Step{WorkflowID: parent.id, StepID: stepID, Name: reg.name, Error: e.encodeError(err), StartedAt: p.Now, CompletedAt: e.now()}
		if rerr := parent.record(ctx, step); rerr != nil {
			return "", nil, rerr
		}
		return "", nil, e.decodeError(step.Error)
	case dedup != nil, errors.Is(err, ErrConflictingWorkflow):
		return "", nil, err
	case err != nil && parent != nil:
		return "", nil, parent.writeErr(err)
	case err != nil:
		return "", nil, fmt.Errorf("%w: start %q: %w", ErrSystemDatabase, reg.name, err)
	}
	if parent != nil {
		step := store.Step{WorkflowID: parent.id, StepID: stepID, Name: reg.name, ChildID: wf.ID, StartedAt: p.Now, CompletedAt: e.now()}
		if err := parent.record(ctx, step); err != nil {
			return "", nil, err
		}
	}
	if !created || o.q.queue != "" {
		return wf.ID, e.activeRun(wf.ID), nil
	}
	r, _, err := e.launch(reg, wf, nil)
	if err != nil {
		return "", nil, fmt.Errorf("durable: %s is recorded and will run at the next Launch: %w", wf.ID, err)
	}
	return wf.ID, r, nil
}

// replayChild returns the child a parent started at step n in an earlier
// run.
func (e *Engine) replayChild(parent *wfState, n int, rec store.Step, name string) (string, *run, error) {
	if err := parent.check(n, rec, name); err != nil {
		return "", nil, err
	}
	if len(rec.Error) > 0 {
		return "", nil, e.decodeError(rec.Error)
	}
	return rec.ChildID, e.activeRun(rec.ChildID), nil
}

// activeRun returns the run of a workflow running in this process, or nil.
func (e *Engine) activeRun(id string) *run {
	e.mu.Lock()
	defer e.mu.Unlock()
	return e.active[id]
}
