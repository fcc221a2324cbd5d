package store

import "time"

// EnqueueParams are the fields of a new ENQUEUED workflow row: the fields
// of any new workflow plus where and how it waits in its queue.
type EnqueueParams struct {
	WorkflowCreateParams

	Queue    string // the queue's name; required
	Priority int    // lower is claimed first; ties are claimed oldest first
	// DeduplicationID, if set, admits one active (ENQUEUED or PENDING)
	// workflow per (Queue, DeduplicationID).
	DeduplicationID string
	PartitionKey    string // the partition of a partitioned queue
	// Delay keeps the workflow from being claimed until it has passed,
	// from Now (the store's clock when Now is zero).
	Delay time.Duration
	// Timeout, if positive, sets the workflow's Deadline to Timeout after
	// it is claimed, unless it already has one.
	Timeout time.Duration
}

// ClaimParams say which ENQUEUED workflows of one queue a worker may claim
// and within which limits.
type ClaimParams struct {
	Queue              string
	Names              []string // only workflows with these names; none claims nothing
	ExecutorID         string   // the claiming worker, recorded on each claimed row
	Owner              string   // the claiming instance, which then owns each claimed row
	ApplicationVersion string   // claims rows of this version or of none, and stamps it
	// Max is how many the worker may take: its free slots. 0 claims
	// nothing.
	Max int
	// GlobalConcurrency, if positive, bounds the queue's PENDING
	// workflows, counted across all executors.
	GlobalConcurrency int
	// PartitionConcurrency, if positive, makes the queue partitioned: it
	// bounds the PENDING workflows of each partition key, and rows without
	// a key are never claimed.
	PartitionConcurrency int
	// RateLimit, if positive, bounds how many of the queue's workflows are
	// claimed within any RatePeriod.
	RateLimit  int
	RatePeriod time.Duration
	Now        time.Time
}

// RequeueParams put a PENDING queued workflow back in its queue, for
// recovery.
type RequeueParams struct {
	WorkflowID string
	// From is the owner the workflow must still have, as in RecoverParams.
	From string
	// MaxAttempts is how many recoveries are allowed after the first run;
	// negative means unlimited. A workflow whose RecoveryAttempts already
	// exceed it is set to StatusMaxRecoveryAttemptsExceeded instead.
	MaxAttempts int
	Now         time.Time
}
