package store

import "time"

// Status is the state of a workflow. The values are DBOS's.
type Status string

// The workflow statuses.
const (
	StatusPending   Status = "PENDING"   // running, or waiting to be recovered
	StatusEnqueued  Status = "ENQUEUED"  // waiting in a queue
	StatusSuccess   Status = "SUCCESS"   // returned a value
	StatusError     Status = "ERROR"     // returned an error
	StatusCancelled Status = "CANCELLED" // cancelled; never overwritten by a late outcome
	// StatusMaxRecoveryAttemptsExceeded marks a workflow that was recovered
	// more often than its limit allows, usually because it kept crashing the
	// process. It is not recovered again.
	StatusMaxRecoveryAttemptsExceeded Status = "MAX_RECOVERY_ATTEMPTS_EXCEEDED"
)

// Known reports whether s is one of the statuses above.
func (s Status) Known() bool { return s == StatusPending || s == StatusEnqueued || s.Terminal() }

// Terminal reports whether s is a final status that no run changes.
func (s Status) Terminal() bool {
	switch s {
	case StatusSuccess, StatusError, StatusCancelled, StatusMaxRecoveryAttemptsExceeded:
		return true
	}
	return false
}

// Workflow is the status row of one workflow execution.
type Workflow struct {
	ID         string
	Name       string
	Status     Status
	Input      []byte // encoded input
	Output     []byte // encoded output, set on SUCCESS
	Error      []byte // encoded error, set on ERROR
	ExecutorID string
	// Owner is the instance running the workflow while it is PENDING, the
	// last one that ran it once it ended; empty while it waits in a queue
	// or when no instance has it.
	Owner              string
	ApplicationVersion string
	ApplicationName    string
	ParentID           string // empty for a top-level workflow
	QueueName          string // empty unless enqueued
	RecoveryAttempts   int    // 1 after the first run; +1 per recovery
	// Deadline is when the workflow is cancelled if it has not finished;
	// zero for none.
	Deadline time.Time
	// Timeout is the time an enqueued workflow has from its claim; its
	// Deadline is set then.
	Timeout         time.Duration
	Priority        int       // queue order: lower first
	DeduplicationID string    // empty for none
	PartitionKey    string    // empty for none
	NotBefore       time.Time // an enqueued workflow is not claimed before; zero for none
	StartedAt       time.Time // when it was claimed from its queue; zero if never
	CreatedAt       time.Time
	UpdatedAt       time.Time
	CompletedAt     time.Time // zero while the workflow is active
	// TraceContext is the W3C traceparent of the trace the workflow was
	// started in, empty if it was started untraced.
	TraceContext string
	// Position is where the row stands in listings: give it as
	// ListParams.After to list what comes after it. Opaque.
	Position string
}

// Step is the recorded outcome of one step of a workflow. Steps are numbered
// from 1 in the order the workflow calls them.
type Step struct {
	WorkflowID  string
	StepID      int
	Name        string
	Output      []byte // encoded output; empty when the step failed
	Error       []byte // encoded error; empty when the step succeeded
	ChildID     string // the workflow this step started, if it started one
	StartedAt   time.Time
	CompletedAt time.Time
}

// StepParams record a step on behalf of an instance.
type StepParams struct {
	// Owner, if set, is the instance the write is made for: the step is
	// recorded only while that instance owns the workflow (ErrNotOwner
	// otherwise). Every write of a running workflow sets it.
	Owner string
	Step  Step
}

// WorkflowCreateParams are the fields of a new workflow row.
type WorkflowCreateParams struct {
	ID                 string
	Name               string
	Input              []byte
	ExecutorID         string
	Owner              string // the instance that will run it
	ApplicationVersion string
	ApplicationName    string
	ParentID           string
	Deadline           time.Time // zero for none
	TraceContext       string    // the W3C traceparent to store; empty for none
	Now                time.Time
}

// OutcomeParams set a workflow's final status.
type OutcomeParams struct {
	WorkflowID string
	Status     Status // StatusSuccess or StatusError
	Output     []byte
	Error      []byte
	Owner      string // if set, the outcome is written only while this instance owns it
	Now        time.Time
}

// RecoverParams count one recovery of a PENDING workflow and hand it to
// a new owner.
type RecoverParams struct {
	WorkflowID string
	// From is the owner the workflow must still have: the dead instance,
	// or "" for none. A workflow owned by anyone else is left alone, so
	// of several instances adopting it at once, one takes it.
	From       string
	Owner      string // the adopting instance
	ExecutorID string
	// ApplicationVersion, if set, adopts only a workflow of this version
	// or of none; another is returned unchanged.
	ApplicationVersion string
	// MaxAttempts is how many recoveries are allowed after the first run;
	// negative means unlimited.
	MaxAttempts int
	Now         time.Time
}

// ListParams filter a listing of workflows. Zero fields do not filter.
type ListParams struct {
	IDs                []string
	Statuses           []Status
	Name               string
	ExecutorID         string
	ApplicationVersion string
	IDPrefix           string
	ParentID           string
	Queue              string
	Owner              string
	CreatedAfter       time.Time // rows created at or after this time
	CreatedBefore      time.Time // rows created before this time
	UpdatedAfter       time.Time // rows changed at or after this time
	UpdatedBefore      time.Time // rows changed before this time
	// Descending lists newest first. Rows are ordered by when they were
	// inserted, which is creation order; a time never reorders them.
	Descending bool
	// After, if set, is the Position of a row of an earlier page: the
	// listing starts after it, in the same order. Rows inserted while
	// pages are read never make a row be listed twice or be skipped. A
	// page may hold fewer than Limit rows, or none, while rows inserted
	// before others have not committed (PostgreSQL holds back what a
	// transaction still open could yet precede): it is not the end of
	// the listing, and the next page lists them.
	After string
	// NoPayloads leaves Input and Output empty (Error stays), for listings
	// that do not show them.
	NoPayloads bool
	Limit      int // 0 means no limit
}
