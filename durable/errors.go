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
	// ErrInStep is returned by operations of the workflow function (Start
	// of a child, Recv, Sleep, Go, …) called from inside a step: call them
	// from the workflow function instead.
	ErrInStep = errors.New("durable: not allowed inside a step; call it from the workflow function")
	// ErrNotWorkflowGoroutine is returned by a durable operation called
	// from another goroutine than the workflow function's own. Step numbers
	// must not depend on goroutine scheduling: fan out with Go instead.
	ErrNotWorkflowGoroutine = errors.New("durable: durable operation called from another goroutine than the workflow's; use durable.Go to run steps concurrently")
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
	// ErrWorkflowCancelled is returned by Result for a cancelled workflow,
	// and by durable operations of a workflow that is being cancelled.
	ErrWorkflowCancelled = errors.New("durable: workflow was cancelled")
	// ErrDeadlineExceeded is matched, together with ErrWorkflowCancelled,
	// by the error of a workflow cancelled because its deadline
	// (WithTimeout, or its parent's) passed.
	ErrDeadlineExceeded = errors.New("durable: workflow deadline exceeded")
	// ErrStepTimeout is matched by the error of a step attempt that ran
	// past WithStepTimeout.
	ErrStepTimeout = errors.New("durable: step timed out")
	// ErrStreamClosed is returned by a write to a closed stream.
	ErrStreamClosed = errors.New("durable: stream is closed")
	// ErrInvalidID is returned for an explicit empty workflow ID.
	ErrInvalidID = errors.New("durable: invalid workflow ID")
	// ErrInvalidQuery is returned by ListWorkflows for a query that cannot
	// be run: an unknown status, a negative Limit.
	ErrInvalidQuery = errors.New("durable: invalid workflow query")
	// ErrInvalidFork is returned by Fork for a step out of range.
	ErrInvalidFork = errors.New("durable: invalid fork")
	// ErrInvalidPatch is returned by Patch and DeprecatePatch for an
	// empty patch name.
	ErrInvalidPatch = errors.New("durable: invalid patch name")
	// ErrCannotResume is returned by Resume for a workflow that ended in
	// SUCCESS: there is nothing left to run.
	ErrCannotResume = errors.New("durable: workflow cannot be resumed")
	// ErrInvalidRetention is returned by CollectGarbage and
	// CancelCreatedBefore for a cutoff in the future or a retention that
	// selects nothing, and by New for such a Config.Retention.
	ErrInvalidRetention = errors.New("durable: invalid retention")
	// ErrUnknownWorkflow is returned by Enqueue for a workflow name no
	// engine of the database has registered.
	ErrUnknownWorkflow = errors.New("durable: no engine of this database registered the workflow")
	// ErrSystemDatabase wraps an error of the system database met by a
	// durable operation. It is never a workflow's outcome: the workflow
	// stays PENDING and the engine runs it again, replaying what was
	// recorded, once the database answers.
	ErrSystemDatabase = errors.New("durable: system database error")
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
	// ErrInvalidDebounce is returned by NewDebouncer for a period that is
	// not positive or a WithDebounceTimeout shorter than it, and by
	// Debounce for an empty key.
	ErrInvalidDebounce = errors.New("durable: invalid debounce")
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
	Attempts   []error // each a *RecordedError, as the workflow sees them
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
	WorkflowID string `json:"workflow_id"`
	StepID     int    `json:"step_id"`
	Recorded   string `json:"recorded"` // the name recorded at StepID
	Called     string `json:"called"`   // the name the replay called
}

func (e *DeterminismError) Error() string {
	return fmt.Sprintf("workflow %s is not deterministic: step %d was recorded as %q but the replay called %q",
		e.WorkflowID, e.StepID, e.Recorded, e.Called)
}

// DeduplicatedError reports an enqueue refused because workflow
// ExistingID, still ENQUEUED or PENDING in Queue, holds DeduplicationID.
// It matches ErrDeduplicated.
type DeduplicatedError struct {
	WorkflowID      string `json:"workflow_id"` // the workflow that was not enqueued
	Queue           string `json:"queue"`
	DeduplicationID string `json:"deduplication_id"`
	ExistingID      string `json:"existing_id"`
}

func (e *DeduplicatedError) Error() string {
	return fmt.Sprintf("durable: workflow %s was deduplicated: workflow %s holds deduplication ID %q in queue %q",
		e.WorkflowID, e.ExistingID, e.DeduplicationID, e.Queue)
}

// Is makes errors.Is(err, ErrDeduplicated) true.
func (e *DeduplicatedError) Is(target error) bool { return target == ErrDeduplicated }

// PanicError is a panic in a workflow or a step, caught and recorded as
// its error with the goroutine's stack. The process keeps running.
type PanicError struct {
	Value string `json:"value"` // the panic's value, printed with %v
	Stack string `json:"stack"`
}

func (e *PanicError) Error() string { return "panic: " + e.Value }

// RecordedError is an error as a workflow sees it: the error a step, a
// child or a workflow returned, read back from the system database. It
// has the original's message and Go type name, and unwraps to the
// identities the engine keeps (see RegisterError), so errors.Is and
// errors.As answer the same on the first run as on any replay.
type RecordedError struct {
	Message string
	Type    string // the original's Go type, such as "*fs.PathError"
	causes  []error
}

func (e *RecordedError) Error() string { return e.Message }

// Unwrap returns the kept identities: registered sentinels the original
// matched and rebuilt values of registered error types it contained.
func (e *RecordedError) Unwrap() []error { return e.causes }
