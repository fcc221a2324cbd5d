package store

import "time"

// What operators and other programs do to workflows that are not theirs
// to run: see the Store methods QueueDepths, ResumeWorkflow,
// ForkWorkflow, DeleteWorkflows and CollectGarbage.

// QueueDepth counts the active workflows of one queue.
type QueueDepth struct {
	Queue    string
	Enqueued int // waiting to be claimed
	Pending  int // claimed, running
}

// ResumeParams resume a workflow that stopped.
type ResumeParams struct {
	WorkflowID string
	Now        time.Time
}

// ForkParams start a new workflow from the recorded steps of another.
type ForkParams struct {
	SourceID string
	NewID    string
	// StartStep is the first step the fork runs itself: the source's
	// steps before it are copied, with the events and stream values they
	// wrote. At least 1.
	StartStep int
	// Input, if set, replaces the source's input.
	Input []byte
	// ApplicationVersion, if set, replaces the source's: the fork runs
	// on engines of that version.
	ApplicationVersion string
	// Queue, if set, enqueues the fork there; else it is PENDING with no
	// owner, for a live engine to adopt.
	Queue string
	Now   time.Time
}

// DeleteParams delete workflows.
type DeleteParams struct {
	IDs []string
	// Children deletes every descendant (children, their children, …)
	// as well.
	Children bool
}

// GCParams say which finished workflows CollectGarbage deletes: those
// that completed before CompletedBefore, if set, and those beyond the
// KeepNewest most recently created finished ones, if positive. With
// neither, it deletes nothing.
type GCParams struct {
	CompletedBefore time.Time
	KeepNewest      int
	// Batch bounds how many one call deletes, so one call holds the
	// write lock briefly. Required.
	Batch int
}

// OpenOptions say how Open opens a database.
type OpenOptions struct {
	// Existing refuses to create the database, the file or the schema,
	// and to migrate it: one that does not exist is ErrNotFound, one of an
	// older schema *SchemaError matching ErrSchemaTooOld. For programs
	// that look at an application's database without owning it (a
	// client, an inspector).
	Existing bool
	// ReadOnly opens for reading only: every write fails, and the
	// application using the database is not disturbed (SQLite: a file the
	// user may only read works). Implies Existing.
	ReadOnly bool
}
