// Package storetest is the conformance suite for [store.Store] backends.
// Each backend calls [Run] once from its own tests; a change to the store
// contract adds a case here first, so every backend is held to it.
package storetest

import (
	"errors"
	"testing"
	"time"

	"github.com/matryer/is"

	"github.com/dboslite/dboslite/store"
)

// Run checks that the stores newStore makes keep the [store.Store]
// contract. Every case calls newStore for a fresh, empty store; newStore
// should close it with t.Cleanup. Closing a store twice must be safe, as
// one case closes its store itself.
func Run(t *testing.T, newStore func(t *testing.T) store.Store, opts ...Option) {
	var c config
	for _, o := range opts {
		o.apply(&c)
	}
	t.Run("CreateWorkflow", func(t *testing.T) { testCreateWorkflow(t, newStore) })
	t.Run("GetWorkflow", func(t *testing.T) { testGetWorkflow(t, newStore) })
	t.Run("RecordStep", func(t *testing.T) { testRecordStep(t, newStore) })
	t.Run("SetOutcome", func(t *testing.T) { testSetOutcome(t, newStore) })
	t.Run("ListWorkflows", func(t *testing.T) { testListWorkflows(t, newStore) })
	t.Run("Paging", func(t *testing.T) { testPaging(t, newStore) })
	t.Run("RecoverWorkflow", func(t *testing.T) { testRecoverWorkflow(t, newStore) })
	t.Run("Concurrency", func(t *testing.T) { testConcurrency(t, newStore) })
	t.Run("Messages", func(t *testing.T) { testMessages(t, newStore) })
	t.Run("CancelWorkflow", func(t *testing.T) { testCancelWorkflow(t, newStore) })
	t.Run("CancelReason", func(t *testing.T) { testCancelReason(t, newStore) })
	t.Run("Events", func(t *testing.T) { testEvents(t, newStore) })
	t.Run("Streams", func(t *testing.T) { testStreams(t, newStore) })
	t.Run("DeadlinesAndParents", func(t *testing.T) { testDeadlinesAndParents(t, newStore) })
	t.Run("Watch", func(t *testing.T) { testWatch(t, newStore) })
	t.Run("Queue", func(t *testing.T) { testQueue(t, newStore) })
	t.Run("Instances", func(t *testing.T) { testInstances(t, newStore) })
	t.Run("Orphans", func(t *testing.T) { testOrphans(t, newStore) })
	t.Run("Fencing", func(t *testing.T) { testFencing(t, newStore) })
	t.Run("NoWorkForTheDead", func(t *testing.T) { testNoWorkForTheDead(t, newStore) })
	t.Run("ConcurrentAdoption", func(t *testing.T) { testConcurrentAdoption(t, newStore, c.shared) })
	t.Run("ConcurrentClaimLimits", func(t *testing.T) { testConcurrentClaimLimits(t, newStore, c.shared) })
	t.Run("ConcurrentDeduplication", func(t *testing.T) { testConcurrentDeduplication(t, newStore, c.shared) })
	t.Run("ConcurrentStreamWrites", func(t *testing.T) { testConcurrentStreamWrites(t, newStore, c.shared) })
	t.Run("ConcurrentConsumers", func(t *testing.T) { testConcurrentConsumers(t, newStore, c.shared) })
	t.Run("ConcurrentLeases", func(t *testing.T) { testConcurrentLeases(t, newStore, c.shared) })
	t.Run("QueueDepths", func(t *testing.T) { testQueueDepths(t, newStore) })
	t.Run("ResumeWorkflow", func(t *testing.T) { testResumeWorkflow(t, newStore) })
	t.Run("ForkWorkflow", func(t *testing.T) { testForkWorkflow(t, newStore) })
	t.Run("DeleteWorkflows", func(t *testing.T) { testDeleteWorkflows(t, newStore) })
	t.Run("CollectGarbage", func(t *testing.T) { testCollectGarbage(t, newStore) })
	t.Run("Schedules", func(t *testing.T) { testSchedules(t, newStore) })
	t.Run("ScheduleWatch", func(t *testing.T) { testScheduleWatch(t, newStore) })
	t.Run("TraceContext", func(t *testing.T) { testTraceContext(t, newStore) })
	t.Run("ReadOnly", func(t *testing.T) {
		if c.readOnly == nil {
			t.Skip("storetest.WithReadOnly not given")
		}
		testReadOnly(t, newStore, c.readOnly)
	})
	t.Run("OpenMissing", func(t *testing.T) {
		if c.missing == nil {
			t.Skip("storetest.WithMissing not given")
		}
		testOpenMissing(t, c.missing)
	})
	t.Run("Close", func(t *testing.T) { testClose(t, newStore) })
}

// Option changes what Run checks.
type Option struct{ apply func(*config) }

type config struct {
	shared   func(t *testing.T, s store.Store) store.Store
	readOnly func(t *testing.T, s store.Store) store.Store
	missing  func(t *testing.T) string
}

// WithShared lets Run open more stores on one database, as several
// processes do: shared returns a new store on the database of s, a store
// newStore made, and closes it with t.Cleanup. Run then also races calls
// made through several stores at once; without it, those cases are
// skipped.
func WithShared(shared func(t *testing.T, s store.Store) store.Store) Option {
	return Option{apply: func(c *config) { c.shared = shared }}
}

// WithReadOnly lets Run check a store opened read-only: readOnly returns
// a store opened with store.OpenOptions{ReadOnly: true} on the database
// of s, and closes it with t.Cleanup. Without it, that case is skipped.
func WithReadOnly(readOnly func(t *testing.T, s store.Store) store.Store) Option {
	return Option{apply: func(c *config) { c.readOnly = readOnly }}
}

// WithMissing lets Run check that store.OpenWith refuses a database that
// does not exist when asked for an existing one: missing returns the URL
// of such a database, which store.Open would create. Without it, that
// case is skipped.
func WithMissing(missing func(t *testing.T) string) Option {
	return Option{apply: func(c *config) { c.missing = missing }}
}

// t0 is the suite's fixed clock. Its times are whole milliseconds, so a
// backend storing milliseconds gives them back exactly, and not whole
// seconds, so one storing seconds does not.
var t0 = time.UnixMilli(1_700_000_000_123)

// at returns the suite clock n seconds after t0.
func at(n int) time.Time { return t0.Add(time.Duration(n) * time.Second) }

// params returns the create parameters of a top-level workflow created at
// at(n).
func params(id string, n int) store.WorkflowCreateParams {
	return store.WorkflowCreateParams{
		ID:                 id,
		Name:               "main.Transfer",
		Input:              []byte(`{"from":"a","to":"b","amount":100}`),
		ExecutorID:         "exec-a",
		ApplicationVersion: "v1",
		ApplicationName:    "bank",
		Now:                at(n),
	}
}

// create creates a workflow that must not exist yet.
func create(t *testing.T, s store.Store, p store.WorkflowCreateParams) store.Workflow {
	is := is.New(t)
	wf, created, err := s.CreateWorkflow(t.Context(), p)
	is.NoErr(err)    // create workflow
	is.True(created) // the workflow is new
	return wf
}

// finish sets a workflow to SUCCESS.
func finish(t *testing.T, s store.Store, id string, n int) {
	is := is.New(t)
	ok, err := s.SetOutcome(t.Context(), store.OutcomeParams{
		WorkflowID: id, Status: store.StatusSuccess, Output: []byte(`"done"`), Now: at(n),
	})
	is.NoErr(err) // set outcome
	is.True(ok)   // the workflow was PENDING
}

func testClose(t *testing.T, newStore func(t *testing.T) store.Store) {
	is := is.New(t)
	s := newStore(t)
	create(t, s, params("wf-1", 0))
	is.NoErr(s.Close()) // first close
	is.NoErr(s.Close()) // second close is safe

	ctx := t.Context()
	_, _, err := s.CreateWorkflow(ctx, params("wf-2", 1))
	is.True(errors.Is(err, store.ErrClosed)) // CreateWorkflow after Close
	_, err = s.GetWorkflow(ctx, "wf-1")
	is.True(errors.Is(err, store.ErrClosed)) // GetWorkflow after Close
	_, err = s.ListWorkflows(ctx, store.ListParams{})
	is.True(errors.Is(err, store.ErrClosed)) // ListWorkflows after Close
	err = s.RecordStep(ctx, store.StepParams{Step: store.Step{WorkflowID: "wf-1", StepID: 1, Name: "debit", Output: []byte("1")}})
	is.True(errors.Is(err, store.ErrClosed)) // RecordStep after Close
	_, err = s.Steps(ctx, "wf-1")
	is.True(errors.Is(err, store.ErrClosed)) // Steps after Close
	_, err = s.SetOutcome(ctx, store.OutcomeParams{WorkflowID: "wf-1", Status: store.StatusSuccess})
	is.True(errors.Is(err, store.ErrClosed)) // SetOutcome after Close
	_, err = s.RecoverWorkflow(ctx, store.RecoverParams{WorkflowID: "wf-1", ExecutorID: "exec-b", MaxAttempts: -1})
	is.True(errors.Is(err, store.ErrClosed)) // RecoverWorkflow after Close
	_, err = s.CancelWorkflow(ctx, store.CancelParams{WorkflowID: "wf-1"})
	is.True(errors.Is(err, store.ErrClosed)) // CancelWorkflow after Close
	err = s.Send(ctx, store.SendParams{DestinationID: "wf-1", Topic: "a"})
	is.True(errors.Is(err, store.ErrClosed)) // Send after Close
	_, _, err = s.ConsumeMessage(ctx, store.ConsumeParams{WorkflowID: "wf-1", Topic: "a"})
	is.True(errors.Is(err, store.ErrClosed)) // ConsumeMessage after Close
	err = s.SetEvent(ctx, store.EventParams{WorkflowID: "wf-1", Key: "k"})
	is.True(errors.Is(err, store.ErrClosed)) // SetEvent after Close
	_, _, err = s.GetEvent(ctx, "wf-1", "k")
	is.True(errors.Is(err, store.ErrClosed)) // GetEvent after Close
	err = s.WriteStream(ctx, store.StreamWrite{WorkflowID: "wf-1", Key: "k"})
	is.True(errors.Is(err, store.ErrClosed)) // WriteStream after Close
	_, _, err = s.ReadStream(ctx, "wf-1", "k", 0)
	is.True(errors.Is(err, store.ErrClosed)) // ReadStream after Close
}

// norm makes a workflow comparable with is.Equal whichever time zone a
// backend gives its times in. It leaves out the Position, which is opaque:
// the cases about positions compare them.
func norm(wf store.Workflow) store.Workflow {
	wf.Position = ""
	wf.CreatedAt = wf.CreatedAt.UTC()
	wf.UpdatedAt = wf.UpdatedAt.UTC()
	wf.CompletedAt = wf.CompletedAt.UTC()
	wf.Deadline = wf.Deadline.UTC()
	wf.NotBefore = wf.NotBefore.UTC()
	wf.StartedAt = wf.StartedAt.UTC()
	return wf
}

// normSteps does for steps what norm does for a workflow.
func normSteps(steps []store.Step) []store.Step {
	out := make([]store.Step, len(steps))
	for i, st := range steps {
		st.StartedAt = st.StartedAt.UTC()
		st.CompletedAt = st.CompletedAt.UTC()
		out[i] = st
	}
	return out
}

// ids returns the IDs of workflows in order.
func ids(wfs []store.Workflow) []string {
	out := make([]string, 0, len(wfs))
	for _, wf := range wfs {
		out = append(out, wf.ID)
	}
	return out
}
