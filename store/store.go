package store

import (
	"context"
	"time"
)

// Store is the system database. Every method is one atomic operation;
// implementations are safe for concurrent use by many goroutines and by
// several processes sharing the same database.
type Store interface {
	// CreateWorkflow inserts a PENDING workflow with RecoveryAttempts 1,
	// owned by p.Owner, unless a workflow with the same ID exists. It returns the row as
	// stored and whether this call created it: a second create with the
	// same ID returns the first row untouched and false. Returns
	// ErrInstanceLost if p.Owner is set and is not a live instance.
	CreateWorkflow(ctx context.Context, p WorkflowCreateParams) (Workflow, bool, error)

	// GetWorkflow returns the workflow with this ID, or ErrNotFound.
	GetWorkflow(ctx context.Context, id string) (Workflow, error)

	// ListWorkflows returns the workflows matching p in the order they
	// were inserted, oldest first (newest first with p.Descending). A
	// status that is not one of the Status constants is an error, as is
	// an After that is not a Position of this store.
	ListWorkflows(ctx context.Context, p ListParams) ([]Workflow, error)

	// RecordStep records the outcome of step p.Step.StepID of workflow
	// p.Step.WorkflowID. A step is recorded once: recording it again with
	// the same name, output, error and child is accepted and changes
	// nothing; anything different returns ErrConflict. Returns ErrNotFound
	// if the workflow does not exist, ErrCancelled if it is CANCELLED and
	// ErrNotOwner if p.Owner is set and another instance owns it, in that
	// order. Every method that records a step inside its own transaction
	// follows the same rules, and then writes nothing else either.
	RecordStep(ctx context.Context, p StepParams) error

	// Steps returns the recorded steps of a workflow ordered by StepID.
	Steps(ctx context.Context, workflowID string) ([]Step, error)

	// SetOutcome sets a PENDING workflow to p.Status with its output or
	// error. It changes nothing and returns false if the workflow is no
	// longer PENDING (a CANCELLED workflow stays CANCELLED). Returns
	// ErrNotFound if the workflow does not exist, and ErrNotOwner if it is
	// PENDING but p.Owner is set and another instance owns it.
	SetOutcome(ctx context.Context, p OutcomeParams) (bool, error)

	// RecoverWorkflow adopts a PENDING workflow still owned by p.From: in
	// one statement it adds one to RecoveryAttempts, hands it to p.Owner
	// and p.ExecutorID and, once the attempts exceed p.MaxAttempts+1, sets
	// it to StatusMaxRecoveryAttemptsExceeded. It returns the row after
	// the update; a workflow that is not PENDING, is owned by another
	// than p.From, or is of another version than p.ApplicationVersion
	// (when set; a workflow of no version fits any), is returned
	// unchanged, so of several instances adopting it at once exactly one
	// sees itself as Owner. Returns ErrNotFound if the workflow does not
	// exist, and ErrInstanceLost if p.Owner is set and is not a live
	// instance.
	RecoverWorkflow(ctx context.Context, p RecoverParams) (Workflow, error)

	// CancelWorkflow sets a workflow CANCELLED, with p.Reason as its Error,
	// unless it ended with SUCCESS or ERROR, and returns the row after the
	// call. A workflow already CANCELLED keeps its first reason. Returns
	// ErrNotFound if the workflow does not exist.
	CancelWorkflow(ctx context.Context, p CancelParams) (Workflow, error)

	// Send stores a message for p.DestinationID. Returns ErrNotFound if the
	// destination does not exist. A repeated IdempotencyKey stores nothing
	// new and is not an error; p.Step is recorded either way.
	Send(ctx context.Context, p SendParams) error

	// ConsumeMessage takes the oldest unconsumed message of p.Topic sent to
	// p.WorkflowID: in one transaction it marks it consumed and records
	// p.Step with the payload as output. It returns the payload and true,
	// or false and writes nothing if there is no message. Each message is
	// consumed once, whatever the number of consumers.
	ConsumeMessage(ctx context.Context, p ConsumeParams) ([]byte, bool, error)

	// SetEvent sets an event of a workflow; the last value wins and every
	// value recorded with a step is kept in the event's history.
	SetEvent(ctx context.Context, p EventParams) error

	// GetEvent returns the value of a workflow's event and whether it is
	// set.
	GetEvent(ctx context.Context, workflowID, key string) ([]byte, bool, error)

	// WriteStream appends a value to a workflow's stream at the next
	// offset, from 0, or closes the stream. Writing to a closed stream is
	// ErrStreamClosed.
	WriteStream(ctx context.Context, p StreamWrite) error

	// ReadStream returns the values of a stream from offset from on, in
	// order, and whether the stream is closed after them.
	ReadStream(ctx context.Context, workflowID, key string, from int) ([]StreamEntry, bool, error)

	// Enqueue inserts an ENQUEUED workflow with RecoveryAttempts 0 unless
	// a workflow with the same ID exists; like CreateWorkflow it returns
	// the row as stored and whether this call created it. If another
	// active (ENQUEUED or PENDING) workflow of p.Queue holds
	// p.DeduplicationID, it inserts nothing and returns a
	// *DeduplicatedError naming that workflow (errors.Is ErrDeduplicated).
	Enqueue(ctx context.Context, p EnqueueParams) (Workflow, bool, error)

	// Claim takes, in one atomic operation, the ENQUEUED workflows of
	// p.Queue that are due and that p's limits admit, lowest Priority
	// first and oldest first among equals, and sets them PENDING for
	// p.ExecutorID with StartedAt now, RecoveryAttempts plus one and their
	// Deadline if they have a Timeout. It returns them in that order. A
	// workflow is claimed by one caller only, however many processes
	// claim at once. Returns ErrInstanceLost if p.Owner is set and is not
	// a live instance.
	Claim(ctx context.Context, p ClaimParams) ([]Workflow, error)

	// Requeue sets a PENDING workflow that has a queue back to ENQUEUED,
	// so that recovery passes it through its queue's limits again, or sets
	// it to StatusMaxRecoveryAttemptsExceeded once its RecoveryAttempts
	// exceed p.MaxAttempts; a requeued workflow has no owner. It returns
	// the row after the update; a workflow that is not PENDING, has no
	// queue or is owned by another than p.From is returned unchanged.
	// Returns ErrNotFound if the workflow does not exist.
	Requeue(ctx context.Context, p RequeueParams) (Workflow, error)

	// QueueDepths counts the ENQUEUED and PENDING workflows of each queue
	// that has any, by queue name.
	QueueDepths(ctx context.Context) ([]QueueDepth, error)

	// ResumeWorkflow makes a CANCELLED, ERROR or
	// MAX_RECOVERY_ATTEMPTS_EXCEEDED workflow run again from its first
	// unrecorded step: one with a queue becomes ENQUEUED in it, one
	// without becomes PENDING with no owner, for a live engine to adopt.
	// Its RecoveryAttempts, deadline, output, error and completion time
	// are cleared, as are its claim time and its deduplication ID, which
	// another workflow may hold by now. A workflow that is PENDING or ENQUEUED is returned
	// unchanged, as is one that ended in SUCCESS (the caller decides
	// whether that is an error). Returns the row after the call, or
	// ErrNotFound.
	ResumeWorkflow(ctx context.Context, p ResumeParams) (Workflow, error)

	// ForkWorkflow creates workflow p.NewID with p.SourceID's name and
	// input (or p.Input), ENQUEUED in p.Queue or PENDING with no owner,
	// and copies, in the same transaction, the source's steps numbered
	// below p.StartStep and the event values and stream entries those
	// steps wrote. Returns ErrNotFound if the source does not exist. If
	// p.NewID exists already it changes nothing and returns that row, so
	// a fork can be asked for twice.
	ForkWorkflow(ctx context.Context, p ForkParams) (Workflow, error)

	// DeleteWorkflows deletes workflows with their steps, messages,
	// events, event history and streams, and with p.Children their
	// descendants too. It returns how many workflows it deleted; IDs
	// that name none are skipped.
	DeleteWorkflows(ctx context.Context, p DeleteParams) (int, error)

	// CollectGarbage deletes at most p.Batch finished workflows (SUCCESS,
	// ERROR, CANCELLED, MAX_RECOVERY_ATTEMPTS_EXCEEDED) that p selects,
	// oldest first, with everything they own, in one short transaction,
	// and returns how many it deleted: call it until it returns fewer
	// than p.Batch. It never deletes an active workflow, even one that
	// finishes while it runs.
	CollectGarbage(ctx context.Context, p GCParams) (int, error)

	// RegisterInstance records a running instance with its first
	// heartbeat, taken from the database's clock.
	RegisterInstance(ctx context.Context, p InstanceParams) (Instance, error)

	// KnownWorkflow reports whether an instance, live or long gone, ever
	// registered a workflow of this name.
	KnownWorkflow(ctx context.Context, name string) (bool, error)

	// Heartbeat renews an instance's heartbeat from the database's clock.
	// It returns ErrInstanceLost, and renews nothing, if the instance was
	// stopped or declared dead: another instance may have adopted its
	// workflows, so it must stop running them.
	Heartbeat(ctx context.Context, id string) error

	// Instances returns the instances not declared dead, oldest first.
	Instances(ctx context.Context) ([]Instance, error)

	// ExpireInstances declares dead, in one statement, every instance
	// whose last heartbeat is older than lease by the database's clock,
	// and returns their IDs. A heartbeat that comes later is refused.
	ExpireInstances(ctx context.Context, lease time.Duration) ([]string, error)

	// StopInstance declares an instance dead: its own clean shutdown, or
	// another instance that saw its process is gone. Its PENDING
	// workflows become orphans at once. Stopping a dead instance changes
	// nothing.
	StopInstance(ctx context.Context, id string) error

	// Orphans returns PENDING workflows that no live instance owns: with
	// no owner, or owned by a dead instance. It also forgets dead
	// instances that own nothing any more.
	Orphans(ctx context.Context, p OrphanParams) ([]Workflow, error)

	// Schedules keeps cron schedules: see schedule.go.
	Schedules

	// Close releases the store. Calls after Close return ErrClosed.
	Close() error
}
