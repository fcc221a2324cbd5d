package durable

import (
	"context"
	"errors"
	"fmt"
	"time"

	"github.com/dboslite/dboslite/store"
)

// TreeOption says whether Cancel and Delete reach a workflow's children.
type TreeOption struct{ children *bool }

// WithChildren says whether the operation reaches the workflow's
// children, and theirs: Cancel does by default, Delete does not.
func WithChildren(include bool) TreeOption { return TreeOption{&include} }

func children(opts []TreeOption, dflt bool) bool {
	for _, o := range opts {
		if o.children != nil {
			dflt = *o.children
		}
	}
	return dflt
}

// Resume makes a workflow that stopped — CANCELLED, ERROR, or
// MAX_RECOVERY_ATTEMPTS_EXCEEDED — run again from its first unrecorded
// step: its recorded steps are replayed, not run again. One that had a
// queue goes back to it (and its limits); another is taken by a live
// engine of its application version that registered it (this one at
// once, if it is launched and did). This is also how a workflow stopped
// by a *DeterminismError goes on once its code is fixed. Resuming a
// workflow that is PENDING or ENQUEUED changes nothing; one that ended in
// SUCCESS is ErrCannotResume; an unknown ID ErrWorkflowNotFound.
func (e *Engine) Resume(ctx context.Context, id string) error {
	wf, err := e.store.ResumeWorkflow(ctx, store.ResumeParams{WorkflowID: id, Now: e.now()})
	switch {
	case errors.Is(err, store.ErrNotFound):
		return fmt.Errorf("%w: %q", ErrWorkflowNotFound, id)
	case err != nil:
		return fmt.Errorf("%w: resume %s: %w", ErrSystemDatabase, id, err)
	case wf.Status == store.StatusSuccess:
		return fmt.Errorf("%w: %s ended in SUCCESS", ErrCannotResume, id)
	}
	e.adoptSoon()
	return nil
}

// ForkOption configures Fork.
type ForkOption struct{ apply func(*forkOptions) }

type forkOptions struct {
	id, version, queue string
	input              any
	hasInput           bool
}

// WithForkID names the fork; by default it gets a new ULID. Forking again
// with the same ID returns the fork made the first time.
func WithForkID(id string) ForkOption { return ForkOption{func(o *forkOptions) { o.id = id }} }

// WithForkInput gives the fork a new input instead of the source's.
func WithForkInput(in any) ForkOption {
	return ForkOption{func(o *forkOptions) { o.input, o.hasInput = in, true }}
}

// WithForkVersion runs the fork on engines of this application version,
// such as the one with the fixed code, instead of the source's.
func WithForkVersion(v string) ForkOption { return ForkOption{func(o *forkOptions) { o.version = v }} }

// WithForkQueue enqueues the fork on this queue.
func WithForkQueue(q string) ForkOption { return ForkOption{func(o *forkOptions) { o.queue = q }} }

// Fork starts a new workflow from workflow id: it has the same name and
// input (or WithForkInput's), reuses id's recorded steps before fromStep —
// they are replayed, not run — with the events and stream values they
// wrote, and runs the rest with the code of today, on a live engine of its
// application version (WithForkVersion) or through a queue
// (WithForkQueue). Steps are numbered from 1; fromStep may be at most one
// past id's last recorded step. It returns the fork's ID. An unknown id is
// ErrWorkflowNotFound; a fromStep out of range ErrInvalidFork.
func (e *Engine) Fork(ctx context.Context, id string, fromStep int, opts ...ForkOption) (string, error) {
	var o forkOptions
	for _, opt := range opts {
		if opt.apply != nil {
			opt.apply(&o)
		}
	}
	if fromStep < 1 {
		return "", fmt.Errorf("%w: step %d: steps are numbered from 1", ErrInvalidFork, fromStep)
	}
	if err := e.exists(ctx, id); err != nil {
		return "", err
	}
	steps, err := e.store.Steps(ctx, id)
	if err != nil {
		return "", fmt.Errorf("%w: steps of %s: %w", ErrSystemDatabase, id, err)
	}
	if last := len(steps); fromStep > last+1 {
		return "", fmt.Errorf("%w: step %d is past the %d steps %s recorded", ErrInvalidFork, fromStep, last, id)
	}
	p := store.ForkParams{SourceID: id, NewID: o.id, StartStep: fromStep, ApplicationVersion: o.version, Queue: o.queue, Now: e.now()}
	if p.NewID == "" {
		p.NewID = e.cfg.NewID()
	}
	if o.hasInput {
		if p.Input, err = e.encode("input of the fork of "+id, o.input); err != nil {
			return "", err
		}
	}
	wf, err := e.store.ForkWorkflow(ctx, p)
	switch {
	case errors.Is(err, store.ErrNotFound):
		return "", fmt.Errorf("%w: %q", ErrWorkflowNotFound, id)
	case err != nil:
		return "", fmt.Errorf("%w: fork %s: %w", ErrSystemDatabase, id, err)
	}
	if o.queue != "" {
		if d := e.dispatcher(o.queue); d != nil {
			d.wake()
		}
	} else {
		e.adoptSoon()
	}
	return wf.ID, nil
}

// Delete deletes a workflow with its steps, messages, events and streams,
// and WithChildren(true) its descendants too. Deleting a workflow that
// is gone already changes nothing; one that never existed is
// ErrWorkflowNotFound. Delete a running workflow only once it is
// cancelled: its process would record nothing more, and fail.
func (e *Engine) Delete(ctx context.Context, id string, opts ...TreeOption) error {
	n, err := e.store.DeleteWorkflows(ctx, store.DeleteParams{IDs: []string{id}, Children: children(opts, false)})
	if err != nil {
		return fmt.Errorf("%w: delete %s: %w", ErrSystemDatabase, id, err)
	}
	if n == 0 {
		return fmt.Errorf("%w: %q", ErrWorkflowNotFound, id)
	}
	return nil
}

// Retention says which finished workflows CollectGarbage deletes: those
// that completed before CompletedBefore, if set, and all but the
// KeepNewest most recently created, if positive. Active workflows are
// never deleted.
type Retention struct {
	CompletedBefore time.Time
	KeepNewest      int
}

// Retention yields the database to the workflows that use it: it deletes
// gcBatch workflows per transaction, then waits twice as long as that
// took (at least gcPauseMin), so it backs off while the database is busy.
// On SQLite, whose one writer every other write waits for, an engine
// running workflows one at a time then keeps most of its pace; an idle
// database loses several thousand finished workflows a second.
const (
	gcBatch    = 10
	gcPauseMin = time.Millisecond
	gcPauseMax = 50 * time.Millisecond
)

// CollectGarbage deletes the finished workflows r selects (SUCCESS,
// ERROR, CANCELLED, MAX_RECOVERY_ATTEMPTS_EXCEEDED), with their steps,
// messages, event history and streams, in short batches paced to leave
// the database to the workflows that use it, and returns how many it
// deleted. A CompletedBefore in the future, or a Retention that selects
// nothing, is ErrInvalidRetention.
func (e *Engine) CollectGarbage(ctx context.Context, r Retention) (int, error) {
	if err := r.check(e.now()); err != nil {
		return 0, err
	}
	total := 0
	pause := time.NewTimer(0)
	defer pause.Stop()
	<-pause.C
	for {
		start := time.Now()
		n, err := e.store.CollectGarbage(ctx, store.GCParams{CompletedBefore: r.CompletedBefore, KeepNewest: r.KeepNewest, Batch: gcBatch})
		took := time.Since(start)
		total += n
		if err != nil {
			return total, fmt.Errorf("%w: collect garbage: %w", ErrSystemDatabase, err)
		}
		if n < gcBatch {
			return total, nil
		}
		pause.Reset(min(gcPauseMax, max(gcPauseMin, 2*took)))
		select {
		case <-pause.C:
		case <-ctx.Done():
			return total, context.Cause(ctx)
		}
	}
}

func (r Retention) check(now time.Time) error {
	switch {
	case r.CompletedBefore.IsZero() && r.KeepNewest <= 0:
		return fmt.Errorf("%w: give CompletedBefore or a positive KeepNewest", ErrInvalidRetention)
	case r.CompletedBefore.After(now):
		return fmt.Errorf("%w: CompletedBefore %v is in the future", ErrInvalidRetention, r.CompletedBefore)
	case r.KeepNewest < 0:
		return fmt.Errorf("%w: negative KeepNewest %d", ErrInvalidRetention, r.KeepNewest)
	}
	return nil
}

// CancelCreatedBefore cancels every workflow still PENDING or ENQUEUED
// that was created before cutoff, with its children, and returns how
// many it cancelled: a global timeout. A cutoff in the future is
// ErrInvalidRetention.
func (e *Engine) CancelCreatedBefore(ctx context.Context, cutoff time.Time) (int, error) {
	if cutoff.After(e.now()) {
		return 0, fmt.Errorf("%w: cutoff %v is in the future", ErrInvalidRetention, cutoff)
	}
	n := 0
	// Newest first: on PostgreSQL an oldest-first page comes short while
	// any transaction of the server that wrote is open, which would end
	// the loop early; a newest-first one is never held back.
	q := ListQuery{Statuses: []Status{StatusPending, StatusEnqueued}, CreatedBefore: cutoff, Limit: 500, NewestFirst: true}
	for {
		page, err := e.ListWorkflows(ctx, q)
		if err != nil {
			return n, err
		}
		for _, wf := range page.Workflows {
			w, err := e.cancelWorkflow(ctx, wf.ID, nil, true)
			if err != nil {
				return n, err
			}
			if w.Status == store.StatusCancelled {
				n++
			}
		}
		if len(page.Workflows) == 0 {
			return n, nil // not at a short page: on PostgreSQL one may come short before the end
		}
		q.After = page.Next
	}
}
