package main

import (
	"time"

	"github.com/dboslite/dboslite/durable"
)

// The -json output of the read commands. Its shape is stable: fields are
// added, never renamed or removed. Names are those of the DBOS tools
// (dbos workflow list/get/steps); times are Unix milliseconds, 0 for
// none; fields without a value are left out.

// workflowJSON is a workflow, in list, show and watch.
type workflowJSON struct {
	WorkflowID         string `json:"workflow_id"`
	Status             string `json:"status"`
	Name               string `json:"name"`
	QueueName          string `json:"queue_name,omitempty"`
	ExecutorID         string `json:"executor_id,omitempty"`
	ApplicationVersion string `json:"app_version,omitempty"`
	ApplicationName    string `json:"app_name,omitempty"`
	ParentWorkflowID   string `json:"parent_workflow_id,omitempty"`
	RecoveryAttempts   int    `json:"recovery_attempts"`
	Priority           int    `json:"priority,omitempty"`
	DeduplicationID    string `json:"deduplication_id,omitempty"`
	PartitionKey       string `json:"queue_partition_key,omitempty"`
	DeadlineEpochMS    int64  `json:"workflow_deadline_epoch_ms,omitempty"`
	CreatedAt          int64  `json:"created_at"`
	UpdatedAt          int64  `json:"updated_at"`
	StartedAt          int64  `json:"started_at_epoch_ms,omitempty"`
	CompletedAt        int64  `json:"completed_at_epoch_ms,omitempty"`
	Input              any    `json:"input,omitempty"`
	Output             any    `json:"output,omitempty"`
	Error              string `json:"error,omitempty"`
}

func toWorkflowJSON(wf durable.WorkflowStatus) workflowJSON {
	return workflowJSON{
		WorkflowID: wf.ID, Status: string(wf.Status), Name: wf.Name, QueueName: wf.QueueName,
		ExecutorID: wf.ExecutorID, ApplicationVersion: wf.ApplicationVersion, ApplicationName: wf.ApplicationName,
		ParentWorkflowID: wf.ParentID, RecoveryAttempts: wf.RecoveryAttempts, Priority: wf.Priority,
		DeduplicationID: wf.DeduplicationID, PartitionKey: wf.PartitionKey, DeadlineEpochMS: millis(wf.Deadline),
		CreatedAt: millis(wf.CreatedAt), UpdatedAt: millis(wf.UpdatedAt), StartedAt: millis(wf.StartedAt),
		CompletedAt: millis(wf.CompletedAt), Input: wf.Input, Output: wf.Output, Error: wf.Error,
	}
}

// stepJSON is a recorded step, in steps and show.
type stepJSON struct {
	FunctionID      int    `json:"function_id"`
	FunctionName    string `json:"function_name"`
	Internal        bool   `json:"internal,omitempty"`
	Output          any    `json:"output,omitempty"`
	Error           string `json:"error,omitempty"`
	ChildWorkflowID string `json:"child_workflow_id,omitempty"`
	StartedAt       int64  `json:"started_at_epoch_ms"`
	CompletedAt     int64  `json:"completed_at_epoch_ms"`
	DurationMS      int64  `json:"duration_ms"`
}

func toStepJSON(s durable.StepInfo) stepJSON {
	j := stepJSON{
		FunctionID: s.StepID, FunctionName: s.Name, Internal: s.Internal, Output: s.Output, ChildWorkflowID: s.ChildID,
		StartedAt: millis(s.StartedAt), CompletedAt: millis(s.CompletedAt), DurationMS: stepTook(s).Milliseconds(),
	}
	if s.Error != nil {
		j.Error = s.Error.Error()
	}
	return j
}

// stepTook is how long a step ran; 0 if a time is missing.
func stepTook(s durable.StepInfo) time.Duration {
	if s.StartedAt.IsZero() || s.CompletedAt.IsZero() {
		return 0
	}
	return s.CompletedAt.Sub(s.StartedAt)
}

// queueJSON is one queue, in queues and watch.
type queueJSON struct {
	QueueName string `json:"queue_name"`
	Enqueued  int    `json:"enqueued"`
	Pending   int    `json:"pending"`
}
