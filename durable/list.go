package durable

import (
	"context"
	"errors"
	"fmt"
	"time"

	"github.com/dboslite/dboslite/store"
)

// ListQuery says which workflows ListWorkflows returns. Zero fields do
// not filter.
type ListQuery struct {
	IDs                []string
	Statuses           []Status
	Name               string
	Queue              string
	ExecutorID         string
	ApplicationVersion string
	ParentID           string
	IDPrefix           string
	CreatedAfter       time.Time // created at or after
	CreatedBefore      time.Time // created before
	UpdatedAfter       time.Time // changed at or after
	UpdatedBefore      time.Time // changed before

	// NewestFirst lists the most recently created first; the default is
	// oldest first. Workflows keep the order they were created in, even
	// when their times are equal.
	NewestFirst bool
	// Limit is the page size. 0 lists everything.
	Limit int
	// After is the Next of the previous page: the listing goes on where it
	// stopped. Workflows created meanwhile never make one be listed twice
	// or skipped.
	After string

	// LoadInput and LoadOutput decode each workflow's input and output
	// into WorkflowStatus.Input and Output (as the codec decodes into an
	// any: JSON objects become map[string]any). Without them the
	// payloads are not even read.
	LoadInput, LoadOutput bool
}

// WorkflowPage is one page of a listing.
type WorkflowPage struct {
	Workflows []WorkflowStatus
	// Next is the query's After for the next page: it goes on after this
	// page's last workflow. A page with fewer than Limit workflows has
	// reached the end, for now: workflows created later are listed after
	// Next. (On PostgreSQL a transaction still open that created a
	// workflow holds back the workflows created after it, which a page
	// could otherwise skip: the listing waits up to 2 s for it to end, and
	// comes short only if it stays open longer.) Empty when the page is
	// empty.
	Next string
}

// ListWorkflows lists the workflows q selects, a page at a time. It works
// on an engine that is not launched, and on a Client.
func (e *Engine) ListWorkflows(ctx context.Context, q ListQuery) (WorkflowPage, error) {
	statuses := make([]store.Status, len(q.Statuses))
	for i, s := range q.Statuses {
		if !store.Status(s).Known() {
			return WorkflowPage{}, fmt.Errorf("%w: unknown status %q", ErrInvalidQuery, s)
		}
		statuses[i] = store.Status(s)
	}
	if q.Limit < 0 {
		return WorkflowPage{}, fmt.Errorf("%w: negative Limit %d", ErrInvalidQuery, q.Limit)
	}
	p := store.ListParams{
		IDs: q.IDs, Statuses: statuses, Name: q.Name, Queue: q.Queue, ExecutorID: q.ExecutorID,
		ApplicationVersion: q.ApplicationVersion, ParentID: q.ParentID, IDPrefix: q.IDPrefix,
		CreatedAfter: q.CreatedAfter, CreatedBefore: q.CreatedBefore, UpdatedAfter: q.UpdatedAfter,
		UpdatedBefore: q.UpdatedBefore, Descending: q.NewestFirst, After: q.After, Limit: q.Limit,
		NoPayloads: !q.LoadInput && !q.LoadOutput,
	}
	wfs, err := e.store.ListWorkflows(ctx, p)
	if err != nil {
		return WorkflowPage{}, fmt.Errorf("%w: list workflows: %w", ErrSystemDatabase, err)
	}
	page := WorkflowPage{Workflows: make([]WorkflowStatus, len(wfs))}
	for i, wf := range wfs {
		ws := e.status(wf)
		if q.LoadInput {
			ws.Input, err = decode[any](e, "input of workflow "+wf.ID, wf.Input)
		}
		if err == nil && q.LoadOutput && wf.Status == store.StatusSuccess {
			ws.Output, err = decode[any](e, "output of workflow "+wf.ID, wf.Output)
		}
		if err != nil {
			return WorkflowPage{}, err
		}
		page.Workflows[i] = ws
	}
	if len(wfs) > 0 {
		page.Next = wfs[len(wfs)-1].Position
	}
	return page, nil
}

// StepInfo is one recorded step of a workflow.
type StepInfo struct {
	StepID int
	Name   string
	// Output is the step's result, decoded as the codec decodes into an
	// any; nil when it failed.
	Output any
	// Error is the step's error as a workflow sees it on a replay (see
	// RecordedError); nil when it succeeded.
	Error   error
	ChildID string // the child workflow the step started or awaited, if any
	// Internal marks the engine's own operations, recorded as steps so
	// that a replay sees them again: durable.sleep (its wake-up time),
	// durable.recv and durable.getEvent (the value, or a timeout),
	// durable.send, durable.setEvent, durable.writeStream,
	// durable.closeStream, and durable.getResult (a child's result). A
	// child workflow's start is recorded under the child's name, with its
	// ChildID.
	Internal    bool
	StartedAt   time.Time
	CompletedAt time.Time
}

// internalSteps are the names of the engine's own recorded operations.
var internalSteps = map[string]bool{
	sleepStep: true, recvStep: true, sendStep: true, getResultStep: true, setEventStep: true,
	getEventStep: true, writeStreamStep: true, closeStreamStep: true,
}

// Steps returns the recorded steps of a workflow in order, or
// ErrWorkflowNotFound.
func (e *Engine) Steps(ctx context.Context, id string) ([]StepInfo, error) {
	if err := e.exists(ctx, id); err != nil {
		return nil, err
	}
	steps, err := e.store.Steps(ctx, id)
	if err != nil {
		return nil, fmt.Errorf("%w: steps of %s: %w", ErrSystemDatabase, id, err)
	}
	out := make([]StepInfo, len(steps))
	for i, s := range steps {
		info := StepInfo{StepID: s.StepID, Name: s.Name, ChildID: s.ChildID, Internal: internalSteps[s.Name] || isPatchMarker(s.Name),
			StartedAt: s.StartedAt, CompletedAt: s.CompletedAt, Error: e.decodeError(s.Error)}
		if info.Error == nil && s.Name != sleepStep {
			// A decode error leaves Output nil: the record stays readable.
			info.Output, _ = decode[any](e, "output", s.Output)
		} else if s.Name == sleepStep {
			info.Output = string(s.Output) // the wake-up time, Unix milliseconds
		}
		out[i] = info
	}
	return out, nil
}

// QueueDepth counts the active workflows of a queue.
type QueueDepth struct {
	Queue    string
	Enqueued int // waiting for a slot
	Pending  int // running
}

// QueueDepths counts, for each queue that has any, its ENQUEUED and
// PENDING workflows.
func (e *Engine) QueueDepths(ctx context.Context) ([]QueueDepth, error) {
	ds, err := e.store.QueueDepths(ctx)
	if err != nil {
		return nil, fmt.Errorf("%w: queue depths: %w", ErrSystemDatabase, err)
	}
	out := make([]QueueDepth, len(ds))
	for i, d := range ds {
		out[i] = QueueDepth{Queue: d.Queue, Enqueued: d.Enqueued, Pending: d.Pending}
	}
	return out, nil
}

// exists returns ErrWorkflowNotFound unless a workflow has this ID.
func (e *Engine) exists(ctx context.Context, id string) error {
	_, err := e.get(ctx, id)
	return err
}

// get reads a workflow's row, or returns ErrWorkflowNotFound.
func (e *Engine) get(ctx context.Context, id string) (store.Workflow, error) {
	wf, err := e.store.GetWorkflow(ctx, id)
	switch {
	case errors.Is(err, store.ErrNotFound):
		return wf, fmt.Errorf("%w: %q", ErrWorkflowNotFound, id)
	case err != nil:
		return wf, fmt.Errorf("%w: %w", ErrSystemDatabase, err)
	}
	return wf, nil
}
