package durable

import (
	"context"
	"errors"
	"fmt"
	"math"
	"time"

	"github.com/dboslite/dboslite/store"
)

// DeduplicationPolicy says what an enqueue does when another active
// workflow of the queue holds its deduplication ID.
type DeduplicationPolicy int

const (
	// RejectDuplicate fails the enqueue with a *DeduplicatedError. The
	// default.
	RejectDuplicate DeduplicationPolicy = iota
	// ReturnExisting returns a handle to the workflow holding the ID; the
	// new input is discarded.
	ReturnExisting
)

// enqueueOptions are the start options that concern queues.
type enqueueOptions struct {
	queue       string
	version     string // the application version that may run it; "" for any
	priority    int
	dedupID     string
	dedup       DeduplicationPolicy
	partition   string
	delay       time.Duration
	queueOnly   []string // the queue options given, to report them without WithQueue
	hasPriority bool
}

// WithQueue enqueues the workflow on the named queue instead of running
// it: Start records it ENQUEUED and returns a handle at once, and a
// process that registered the queue runs it when the queue's limits allow.
// The queue need not be registered in this process. A timeout given with
// WithTimeout starts when the workflow leaves the queue.
func WithQueue(name string) StartOption {
	return StartOption{func(o *startOptions) { o.q.queue = name }}
}

// WithPriority orders the workflow in its queue: lower runs first, from 1
// to 2^31-1; workflows without a priority run before any with one, and
// equal priorities run oldest first. Needs WithQueue.
func WithPriority(p int) StartOption {
	return StartOption{func(o *startOptions) {
		o.q.priority, o.q.hasPriority = p, true
		o.q.queueOnly = append(o.q.queueOnly, "WithPriority")
	}}
}

// WithDeduplicationID admits one active workflow per deduplication ID in
// the queue: while one is ENQUEUED or PENDING, enqueueing another with the
// same ID fails with a *DeduplicatedError, or returns the first with
// WithDeduplicationPolicy(ReturnExisting). Needs WithQueue.
func WithDeduplicationID(id string) StartOption {
	return StartOption{func(o *startOptions) {
		o.q.dedupID = id
		o.q.queueOnly = append(o.q.queueOnly, "WithDeduplicationID")
	}}
}

// WithDeduplicationPolicy says what a deduplicated enqueue does. Defaults
// to RejectDuplicate. Needs WithQueue.
func WithDeduplicationPolicy(p DeduplicationPolicy) StartOption {
	return StartOption{func(o *startOptions) {
		o.q.dedup = p
		o.q.queueOnly = append(o.q.queueOnly, "WithDeduplicationPolicy")
	}}
}

// WithPartitionKey puts the workflow in a partition of a partitioned
// queue, whose limits apply per key. Required by, and only allowed on,
// partitioned queues, and not with WithDeduplicationID (as in DBOS: a
// deduplication ID is unique per queue, which partitions would not
// respect). Needs WithQueue.
func WithPartitionKey(key string) StartOption {
	return StartOption{func(o *startOptions) {
		o.q.partition = key
		o.q.queueOnly = append(o.q.queueOnly, "WithPartitionKey")
	}}
}

// WithApplicationVersion lets only engines of application version v
// claim the workflow from its queue. By default a workflow enqueued from
// an engine runs on that engine's version, and one enqueued by Enqueue on
// any. Needs WithQueue.
func WithApplicationVersion(v string) StartOption {
	return StartOption{func(o *startOptions) {
		o.q.version = v
		o.q.queueOnly = append(o.q.queueOnly, "WithApplicationVersion")
	}}
}

// WithDelay keeps the workflow in its queue for at least d. Needs
// WithQueue.
func WithDelay(d time.Duration) StartOption {
	return StartOption{func(o *startOptions) {
		o.q.delay = d
		o.q.queueOnly = append(o.q.queueOnly, "WithDelay")
	}}
}

// checkEnqueue validates the queue options before anything is recorded.
func (e *Engine) checkEnqueue(o enqueueOptions) error {
	if o.queue == "" {
		if len(o.queueOnly) > 0 {
			return fmt.Errorf("%w: %s given without WithQueue", ErrNoQueue, o.queueOnly[0])
		}
		return nil
	}
	if o.hasPriority && (o.priority < 1 || o.priority > math.MaxInt32) {
		return fmt.Errorf("%w: priority %d is outside 1..2^31-1", ErrInvalidEnqueue, o.priority)
	}
	if o.delay < 0 {
		return fmt.Errorf("%w: negative delay %v", ErrInvalidEnqueue, o.delay)
	}
	if o.partition != "" && o.dedupID != "" {
		return fmt.Errorf("%w: WithPartitionKey and WithDeduplicationID cannot be combined", ErrInvalidEnqueue)
	}
	d := e.dispatcher(o.queue)
	if d == nil {
		return nil // served elsewhere: its definition is not known here
	}
	switch {
	case d.q.Partitioned() && o.partition == "":
		return fmt.Errorf("%w: queue %q is partitioned: give WithPartitionKey", ErrInvalidEnqueue, o.queue)
	case !d.q.Partitioned() && o.partition != "":
		return fmt.Errorf("%w: queue %q is not partitioned: drop WithPartitionKey", ErrInvalidEnqueue, o.queue)
	}
	return nil
}

// enqueueByName records workflow name ENQUEUED for whichever engine
// registered it, and returns its ID.
func (e *Engine) enqueueByName(ctx context.Context, name string, in any, o startOptions) (string, error) {
	if o.idGiven && o.id == "" {
		return "", fmt.Errorf("%w: WithID(\"\") given to enqueue %q", ErrInvalidID, name)
	}
	if o.timeout < 0 {
		return "", fmt.Errorf("%w: WithTimeout(%v)", ErrInvalidTimeout, o.timeout)
	}
	if err := e.checkEnqueue(o.q); err != nil {
		return "", err
	}
	if err := e.knownWorkflow(ctx, name); err != nil {
		return "", err
	}
	input, err := e.encode("input of workflow "+name, in)
	if err != nil {
		return "", err
	}
	if o.id == "" {
		o.id = e.cfg.NewID()
	}
	p := store.WorkflowCreateParams{ID: o.id, Name: name, Input: input, ApplicationVersion: o.q.version,
		ApplicationName: e.cfg.AppName, TraceContext: e.traceParent(ctx)}
	wf, created, err := e.enqueue(ctx, p, o)
	var dedup *DeduplicatedError
	switch {
	case errors.As(err, &dedup):
		return "", err
	case err != nil:
		return "", fmt.Errorf("%w: enqueue %q: %w", ErrSystemDatabase, name, err)
	case !created && wf.Name != name:
		return "", fmt.Errorf("%w: %s is a %q workflow, not %q", ErrConflictingWorkflow, wf.ID, wf.Name, name)
	}
	return wf.ID, nil
}

// enqueue records a workflow ENQUEUED. A deduplicated enqueue returns the
// holder's row under ReturnExisting, else a *DeduplicatedError.
func (e *Engine) enqueue(ctx context.Context, p store.WorkflowCreateParams, o startOptions) (store.Workflow, bool, error) {
	ep := store.EnqueueParams{
		WorkflowCreateParams: p,
		Queue:                o.q.queue,
		Priority:             o.q.priority,
		DeduplicationID:      o.q.dedupID,
		PartitionKey:         o.q.partition,
		Timeout:              o.timeout,
	}
	// The queue's clock is the database's: its creation time orders it,
	// and its delay ends by that clock (see store's doc, Clocks).
	ep.Now = time.Time{}
	if o.q.delay > 0 {
		ep.Delay = o.q.delay
	}
	if o.timeout > 0 {
		ep.Deadline = time.Time{} // set at the claim
	}
	wf, created, err := e.store.Enqueue(ctx, ep)
	var de *store.DeduplicatedError
	if errors.As(err, &de) {
		if o.q.dedup == ReturnExisting {
			wf, err := e.store.GetWorkflow(ctx, de.HolderID)
			return wf, false, err
		}
		return wf, false, &DeduplicatedError{WorkflowID: p.ID, Queue: de.Queue, DeduplicationID: de.DeduplicationID, ExistingID: de.HolderID}
	}
	if err == nil && created {
		if d := e.dispatcher(o.q.queue); d != nil {
			d.wake()
		}
	}
	return wf, created, err
}
