package durable

import (
	"encoding/json"
	"time"

	"github.com/dboslite/dboslite/store"
)

// Status is the state of a workflow. The values are DBOS's.
type Status string

// The workflow statuses.
const (
	StatusPending   Status = "PENDING"   // running, or waiting to be adopted by a live engine
	StatusEnqueued  Status = "ENQUEUED"  // waiting in a queue
	StatusSuccess   Status = "SUCCESS"   // returned a value
	StatusError     Status = "ERROR"     // returned an error
	StatusCancelled Status = "CANCELLED" // cancelled by hand or by its deadline; never overwritten
	// StatusMaxRecoveryAttemptsExceeded marks a workflow that was recovered
	// more often than its limit allows, usually because it kept crashing
	// the process. It does not run again unless resumed.
	StatusMaxRecoveryAttemptsExceeded Status = "MAX_RECOVERY_ATTEMPTS_EXCEEDED"
)

// Terminal reports whether s is a final status.
func (s Status) Terminal() bool { return store.Status(s).Terminal() }

// WorkflowStatus is a workflow as recorded.
type WorkflowStatus struct {
	ID                 string
	Name               string
	Status             Status
	ExecutorID         string // the executor that last ran it
	ApplicationVersion string
	ApplicationName    string
	ParentID           string // empty for a top-level workflow
	QueueName          string // empty unless enqueued
	RecoveryAttempts   int    // 1 after the first run; +1 per recovery
	Deadline           time.Time
	Priority           int
	DeduplicationID    string
	PartitionKey       string
	// Error is the message of the workflow's error when it ended in ERROR,
	// or of the reason it was cancelled, if one was recorded.
	Error string
	// Input and Output are the workflow's input and, once it succeeded,
	// its output, decoded into an any, when ListQuery asked for them.
	Input, Output any
	CreatedAt     time.Time
	UpdatedAt     time.Time
	StartedAt     time.Time // when it left its queue; zero if never queued
	CompletedAt   time.Time // zero while the workflow is active
}

func (e *Engine) status(wf store.Workflow) WorkflowStatus {
	ws := WorkflowStatus{
		ID: wf.ID, Name: wf.Name, Status: Status(wf.Status), ExecutorID: wf.ExecutorID,
		ApplicationVersion: wf.ApplicationVersion, ApplicationName: wf.ApplicationName, ParentID: wf.ParentID,
		QueueName: wf.QueueName, RecoveryAttempts: wf.RecoveryAttempts, Deadline: wf.Deadline, Priority: wf.Priority,
		DeduplicationID: wf.DeduplicationID, PartitionKey: wf.PartitionKey, CreatedAt: wf.CreatedAt,
		UpdatedAt: wf.UpdatedAt, StartedAt: wf.StartedAt, CompletedAt: wf.CompletedAt,
	}
	if len(wf.Error) > 0 {
		var rec errorRecord
		if json.Unmarshal(wf.Error, &rec) == nil {
			ws.Error = rec.Message
		}
	}
	return ws
}
