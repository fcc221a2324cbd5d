package durable

import (
	"errors"
	"fmt"
)

// Sentinel errors. Test for them with errors.Is.
var (
	// ErrNotLaunched is returned by operations that need a launched engine.
	ErrNotLaunched = errors.New("durable: engine not launched: call Launch first")
	// ErrShutdown is returned once the engine is shutting down. A workflow
	// interrupted by shutdown stays PENDING and resumes at the next Launch.
	ErrShutdown = errors.New("durable: engine is shut down")
	// ErrAlreadyLaunched is returned by Launch and Register after Launch.
	ErrAlreadyLaunched = errors.New("durable: engine already launched")
	// ErrInvalidName is returned by Register for an empty name.
	ErrInvalidName = errors.New("durable: invalid workflow name")
	// ErrDuplicateName is returned by Register for a name already taken.
	ErrDuplicateName = errors.New("durable: workflow name already registered")
	// ErrNotInWorkflow is returned by workflow-only operations called
	// outside a workflow function.
	ErrNotInWorkflow = errors.New("durable: not called from inside a workflow")
	// ErrInStep is returned when a step tries to start a workflow; start it
	// from the workflow function instead.
	ErrInStep = errors.New("durable: workflows cannot be started from inside a step")
	// ErrEncode wraps a value the codec could not encode. Nothing is written.
	ErrEncode = errors.New("durable: cannot encode value")
	// ErrDecode wraps a recorded payload the codec could not decode into the
	// requested type.
	ErrDecode = errors.New("durable: cannot decode recorded value")
	// ErrWorkflowNotFound is returned for an ID no workflow has.
	ErrWorkflowNotFound = errors.New("durable: workflow does not exist")
	// ErrConflictingWorkflow is returned when a workflow ID is started with
	// a different workflow name than the one it was recorded with.
	ErrConflictingWorkflow = errors.New("durable: workflow ID already used by a different workflow")
	// ErrWorkflowCancelled is returned by Result for a cancelled workflow.
	ErrWorkflowCancelled = errors.New("durable: workflow was cancelled")
	// ErrTimeout is returned by Recv and GetEvent when nothing arrived
	// before the timeout.
	ErrTimeout = errors.New("durable: timed out")
	// ErrInvalidTimeout is returned for a negative timeout.
	ErrInvalidTimeout = errors.New("durable: invalid timeout")
	// ErrNoQueue is returned for a queue option (WithPriority,
	// WithDeduplicationID, …) given without WithQueue.
	ErrNoQueue = errors.New("durable: queue option without WithQueue")
	// ErrInvalidEnqueue is returned for queue options that do not fit: a
	// priority out of range, a negative delay, a partition key missing on
	// a partitioned queue or given to an unpartitioned one.
	ErrInvalidEnqueue = errors.New("durable: invalid enqueue options")
	// ErrDeduplicated is matched by *DeduplicatedError.
	ErrDeduplicated = errors.New("durable: workflow deduplicated")
	// ErrDuplicateQueue is returned by RegisterQueue for a name already
	// registered.
	ErrDuplicateQueue = errors.New("durable: queue already registered")
	// ErrMaxRecoveryAttemptsExceeded is returned by Result for a workflow
	// that was recovered more often than its limit allows.
	ErrMaxRecoveryAttemptsExceeded = errors.New("durable: workflow exceeded its maximum recovery attempts")
)

// errSuspended stops the durable operations of a workflow whose goroutine
// is unwinding into a long Sleep; they run for real when it is replayed.
var errSuspended = errors.New("durable: workflow is suspended in a sleep")

// StepError is the error of a step that failed every attempt its retry
// policy allowed. It wraps every attempt's error, oldest first, so
// errors.Is and errors.As see each of them.
type StepError struct {
	WorkflowID string
	StepID     int
	StepName   string
	Attempts   []error
}

func (e *StepError) Error() string {
	last := "no attempt"
	if n := len(e.Attempts); n > 0 {
		last = e.Attempts[n-1].Error()
	}
	return fmt.Sprintf("step %q (#%d of workflow %s) failed after %d attempts: %s",
		e.StepName, e.StepID, e.WorkflowID, len(e.Attempts), last)
}

// Unwrap returns every attempt's error.
func (e *StepError) Unwrap() []error { return e.Attempts }

// DeterminismError reports a replayed workflow that called a different
// operation than the one recorded at the same step number: the workflow
// code changed, or it depends on something other than its input and its
// recorded steps.
type DeterminismError struct {
	WorkflowID string
	StepID     int
	Recorded   string // the name recorded at StepID
	Called     string // the name the replay called
}

func (e *DeterminismError) Error() string {
	return fmt.Sprintf("workflow %s is not deterministic: step %d was recorded as %q but the replay called %q",
		e.WorkflowID, e.StepID, e.Recorded, e.Called)
}

// DeduplicatedError reports an enqueue refused because workflow
// ExistingID, still ENQUEUED or PENDING in Queue, holds DeduplicationID.
// It matches ErrDeduplicated.
type DeduplicatedError struct {
	WorkflowID      string // the workflow that was not enqueued
	Queue           string
	DeduplicationID string
	ExistingID      string
}

func (e *DeduplicatedError) Error() string {
	return fmt.Sprintf("durable: workflow %s was deduplicated: workflow %s holds deduplication ID %q in queue %q",
		e.WorkflowID, e.ExistingID, e.DeduplicationID, e.Queue)
}

// Is makes errors.Is(err, ErrDeduplicated) true.
func (e *DeduplicatedError) Is(target error) bool { return target == ErrDeduplicated }

// PanicError is a panic in a workflow or a step, caught and recorded as
// its error. The process keeps running.
type PanicError struct {
	Value any
	Stack string
}

func (e *PanicError) Error() string { return fmt.Sprintf("panic: %v", e.Value) }

// RecordedError is an error read back from the system database: the error
// a step or workflow returned in an earlier run, possibly in another
// process. It keeps the message and the Go type name of the original.
type RecordedError struct {
	Message string `json:"message"`
	Type    string `json:"type,omitempty"`
}

func (e *RecordedError) Error() string { return e.Message }
