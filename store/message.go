package store

import "time"

// SendParams queue a message for a workflow.
type SendParams struct {
	DestinationID string
	Topic         string
	Payload       []byte
	// IdempotencyKey, if set, delivers the message at most once per
	// destination: a second send with the same key changes nothing.
	IdempotencyKey string
	Now            time.Time
	// Step, if set, is recorded in the same transaction: the send is then
	// one checkpointed operation of the sending workflow.
	Step  *Step
	Owner string // fences Step, as StepParams.Owner does
}

// ConsumeParams take the oldest unconsumed message of a topic.
type ConsumeParams struct {
	WorkflowID string
	Topic      string
	// Step records the message in the consuming workflow, in the same
	// transaction as the consume; its Output is set to the payload.
	Step  Step
	Owner string // fences Step, as StepParams.Owner does
}

// EventParams set a workflow's event.
type EventParams struct {
	WorkflowID string
	Key        string
	Value      []byte
	Now        time.Time
	// Step, if set, is recorded in the same transaction and numbers the
	// value in the event's history.
	Step  *Step
	Owner string // fences Step, as StepParams.Owner does
}

// StreamWrite appends to a workflow's stream, or closes it.
type StreamWrite struct {
	WorkflowID string
	Key        string
	Value      []byte
	Close      bool // close the stream instead of writing Value
	Now        time.Time
	Step       *Step  // if set, recorded in the same transaction
	Owner      string // fences Step, as StepParams.Owner does
}

// StreamEntry is one value of a stream.
type StreamEntry struct {
	Offset int
	Value  []byte
}

// CancelParams cancel a workflow.
type CancelParams struct {
	WorkflowID string
	// Reason, if set, is the encoded error kept as the cancelled
	// workflow's Error (a deadline, say); empty for a plain cancel.
	Reason []byte
	Now    time.Time
}
