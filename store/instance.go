package store

import "time"

// Instance is one running engine: a process, or one engine of a process,
// that registered itself and heartbeats. A PENDING workflow names the
// instance that runs it (Workflow.Owner); writes made for the workflow
// name it too and are refused once another instance owns the workflow.
type Instance struct {
	ID                 string
	ExecutorID         string
	ApplicationVersion string
	ApplicationName    string
	// Host identifies the machine and process namespace the instance runs
	// in; two instances with the same Host can compare PIDs.
	Host string
	PID  int
	// ProcessStart tells a process from a later one that reused its PID;
	// empty where the system cannot say.
	ProcessStart string
	StartedAt    time.Time
	HeartbeatAt  time.Time // the database's clock
	Dead         bool      // stopped, or declared dead by another instance
}

// InstanceParams register an instance.
type InstanceParams struct {
	ID                 string
	ExecutorID         string
	ApplicationVersion string
	ApplicationName    string
	Host               string
	PID                int
	ProcessStart       string
	// Workflows are the names of the workflows the instance registered:
	// they are remembered, even after the instance is gone, so that a
	// client can tell a known name from a typo (KnownWorkflow).
	Workflows []string
}

// OrphanParams ask for PENDING workflows that no live instance owns.
type OrphanParams struct {
	Limit int // at most this many; 0 for no limit
}
