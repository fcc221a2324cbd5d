package storetest

import (
	"errors"
	"testing"

	"github.com/matryer/is"

	"github.com/dboslite/dboslite/store"
)

// fencingStore returns a store with live instances inst-a and inst-b and
// workflow wf, owned by inst-a.
func fencingStore(t *testing.T, newStore func(t *testing.T) store.Store) store.Store {
	s := newStore(t)
	register(t, s, "inst-a")
	register(t, s, "inst-b")
	createOwned(t, s, "wf", "inst-a", 0)
	return s
}

// recordAs records step 1 of wf on behalf of owner.
func recordAs(t *testing.T, s store.Store, owner string) error {
	return s.RecordStep(t.Context(), store.StepParams{Owner: owner, Step: step("wf", 1, "debit", `1`)})
}

// outcomeAs sets wf to SUCCESS on behalf of owner.
func outcomeAs(t *testing.T, s store.Store, owner string) (bool, error) {
	return s.SetOutcome(t.Context(), store.OutcomeParams{
		WorkflowID: "wf", Status: store.StatusSuccess, Output: []byte(`"late"`), Owner: owner, Now: at(9),
	})
}

// fencedWrites are the methods that record a step of wf in their own
// transaction. Each fenced write of theirs must write nothing, step or
// else.
var fencedWrites = []struct {
	name  string
	setup func(t *testing.T, s store.Store)
	// write records step 1 of wf on behalf of owner.
	write func(t *testing.T, s store.Store, owner string) error
	// wrote reports whether what the write writes besides its step is
	// there. It may write itself, after the test looked at the steps.
	wrote func(t *testing.T, s store.Store) bool
	// blindOnCancel says wrote cannot look once wf is cancelled: a
	// message is seen only by consuming it, which records a step.
	blindOnCancel bool
}{
	{
		name:  "Send",
		setup: func(t *testing.T, s store.Store) { create(t, s, params("dest", 1)) },
		write: func(t *testing.T, s store.Store, owner string) error {
			return s.Send(t.Context(), store.SendParams{DestinationID: "dest", Topic: "t", Payload: []byte(`"m"`), Now: at(2),
				Step: &store.Step{WorkflowID: "wf", StepID: 1, Name: "send", Output: []byte("null"), CompletedAt: at(2)}, Owner: owner})
		},
		wrote: func(t *testing.T, s store.Store) bool {
			_, ok := consume(t, s, "dest", "t", 1)
			return ok // the message was stored
		},
	},
	{
		name:  "ConsumeMessage",
		setup: func(t *testing.T, s store.Store) { send(t, s, "wf", "t", `"m"`) },
		write: func(t *testing.T, s store.Store, owner string) error {
			_, _, err := s.ConsumeMessage(t.Context(), store.ConsumeParams{WorkflowID: "wf", Topic: "t",
				Step: store.Step{WorkflowID: "wf", StepID: 1, Name: "recv", CompletedAt: at(2)}, Owner: owner})
			return err
		},
		wrote: func(t *testing.T, s store.Store) bool {
			_, ok := consume(t, s, "wf", "t", 2)
			return !ok // the message was consumed
		},
		blindOnCancel: true,
	},
	{
		name: "SetEvent",
		setup: func(t *testing.T, s store.Store) {
			is := is.New(t)
			is.NoErr(s.SetEvent(t.Context(), store.EventParams{WorkflowID: "wf", Key: "k", Value: []byte(`"old"`), Now: at(1)})) // set event
		},
		write: func(t *testing.T, s store.Store, owner string) error {
			return s.SetEvent(t.Context(), store.EventParams{WorkflowID: "wf", Key: "k", Value: []byte(`"new"`), Now: at(2),
				Step: &store.Step{WorkflowID: "wf", StepID: 1, Name: "setEvent", Output: []byte("null"), CompletedAt: at(2)}, Owner: owner})
		},
		wrote: func(t *testing.T, s store.Store) bool {
			is := is.New(t)
			v, ok, err := s.GetEvent(t.Context(), "wf", "k")
			is.NoErr(err) // get event
			is.True(ok)   // set before the write
			return string(v) == `"new"`
		},
	},
	{
		name: "WriteStream",
		write: func(t *testing.T, s store.Store, owner string) error {
			return s.WriteStream(t.Context(), store.StreamWrite{WorkflowID: "wf", Key: "out", Value: []byte(`"v"`), Now: at(2),
				Step: &store.Step{WorkflowID: "wf", StepID: 1, Name: "write", Output: []byte("null"), CompletedAt: at(2)}, Owner: owner})
		},
		wrote: func(t *testing.T, s store.Store) bool {
			is := is.New(t)
			vs, _, err := s.ReadStream(t.Context(), "wf", "out", 0)
			is.NoErr(err) // read stream
			return len(vs) > 0
		},
	},
	{
		name: "WriteStream closing",
		write: func(t *testing.T, s store.Store, owner string) error {
			return s.WriteStream(t.Context(), store.StreamWrite{WorkflowID: "wf", Key: "out", Close: true, Now: at(2),
				Step: &store.Step{WorkflowID: "wf", StepID: 1, Name: "close", Output: []byte("null"), CompletedAt: at(2)}, Owner: owner})
		},
		wrote: func(t *testing.T, s store.Store) bool {
			is := is.New(t)
			_, closed, err := s.ReadStream(t.Context(), "wf", "out", 0)
			is.NoErr(err) // read stream
			return closed
		},
	},
}

func testFencing(t *testing.T, newStore func(t *testing.T) store.Store) {
	t.Run("RecordStep by the owner", func(t *testing.T) {
		is := is.New(t)
		s := fencingStore(t, newStore)
		is.NoErr(recordAs(t, s, "inst-a"))  // the owner records
		is.Equal(len(steps(t, s, "wf")), 1) // the step is recorded
		is.NoErr(recordAs(t, s, "inst-a"))  // and may replay it
		is.Equal(len(steps(t, s, "wf")), 1) // once
	})

	t.Run("RecordStep by another live instance is ErrNotOwner", func(t *testing.T) {
		is := is.New(t)
		s := fencingStore(t, newStore)
		is.True(errors.Is(recordAs(t, s, "inst-b"), store.ErrNotOwner)) // not its workflow
		is.Equal(len(steps(t, s, "wf")), 0)                             // nothing recorded
		is.True(errors.Is(recordAs(t, s, "ghost"), store.ErrNotOwner))  // nor an unknown instance's
		is.Equal(len(steps(t, s, "wf")), 0)                             // nothing recorded
	})

	t.Run("RecordStep replayed by another instance is ErrNotOwner", func(t *testing.T) {
		is := is.New(t)
		s := fencingStore(t, newStore)
		is.NoErr(recordAs(t, s, "inst-a"))                              // the owner records
		is.True(errors.Is(recordAs(t, s, "inst-b"), store.ErrNotOwner)) // the same record by another is refused, not accepted as a replay
	})

	t.Run("RecordStep by a dead owner is ErrNotOwner", func(t *testing.T) {
		is := is.New(t)
		s := fencingStore(t, newStore)
		stop(t, s, "inst-a")
		wf, err := s.GetWorkflow(t.Context(), "wf")
		is.NoErr(err)                                                   // get
		is.Equal(wf.Owner, "inst-a")                                    // the workflow still names it
		is.True(errors.Is(recordAs(t, s, "inst-a"), store.ErrNotOwner)) // but a dead owner owns nothing
		is.Equal(len(steps(t, s, "wf")), 0)                             // nothing recorded
	})

	t.Run("RecordStep by the former owner after an adoption is ErrNotOwner", func(t *testing.T) {
		is := is.New(t)
		s := fencingStore(t, newStore)
		adopt(t, s, "wf", "inst-a", "inst-b", -1, 1)                    // adopted from a live owner
		is.True(errors.Is(recordAs(t, s, "inst-a"), store.ErrNotOwner)) // the former owner must stop
		is.NoErr(recordAs(t, s, "inst-b"))                              // the new one records
	})

	t.Run("RecordStep without Owner is not fenced", func(t *testing.T) {
		is := is.New(t)
		s := fencingStore(t, newStore)
		is.NoErr(recordAs(t, s, "")) // another instance's workflow
		stop(t, s, "inst-a")
		is.NoErr(s.RecordStep(t.Context(), store.StepParams{Step: step("wf", 2, "credit", `2`)})) // a dead instance's workflow
		is.Equal(len(steps(t, s, "wf")), 2)                                                       // both recorded
	})

	t.Run("RecordStep errors: ErrNotFound, then ErrCancelled, then ErrNotOwner", func(t *testing.T) {
		is := is.New(t)
		s := fencingStore(t, newStore)
		ctx := t.Context()
		for _, owner := range []string{"inst-b", "ghost"} {
			err := s.RecordStep(ctx, store.StepParams{Owner: owner, Step: step("missing", 1, "debit", `1`)})
			is.True(errors.Is(err, store.ErrNotFound)) // a missing workflow before any owner
		}
		_, err := s.CancelWorkflow(ctx, store.CancelParams{WorkflowID: "wf", Now: at(1)})
		is.NoErr(err)                                                    // cancel
		is.True(errors.Is(recordAs(t, s, "inst-b"), store.ErrCancelled)) // a cancel before another owner
		stop(t, s, "inst-a")
		is.True(errors.Is(recordAs(t, s, "inst-a"), store.ErrCancelled)) // a cancel before a dead owner
		is.Equal(len(steps(t, s, "wf")), 0)                              // nothing recorded
	})

	t.Run("SetOutcome by the owner, or without Owner", func(t *testing.T) {
		is := is.New(t)
		s := fencingStore(t, newStore)
		createOwned(t, s, "wf-2", "inst-a", 1)
		ok, err := outcomeAs(t, s, "inst-a")
		is.NoErr(err) // the owner sets the outcome
		is.True(ok)   // of its PENDING workflow
		ok, err = s.SetOutcome(t.Context(), store.OutcomeParams{WorkflowID: "wf-2", Status: store.StatusSuccess, Output: []byte(`1`)})
		is.NoErr(err) // an outcome without Owner
		is.True(ok)   // is not fenced
	})

	t.Run("SetOutcome by another or a dead owner is ErrNotOwner", func(t *testing.T) {
		is := is.New(t)
		s := fencingStore(t, newStore)
		before, err := s.GetWorkflow(t.Context(), "wf")
		is.NoErr(err) // get
		ok, err := outcomeAs(t, s, "inst-b")
		is.True(errors.Is(err, store.ErrNotOwner)) // a PENDING workflow of another owner
		is.True(!ok)                               // nothing set
		stop(t, s, "inst-a")
		ok, err = outcomeAs(t, s, "inst-a")
		is.True(errors.Is(err, store.ErrNotOwner)) // a dead owner owns nothing
		is.True(!ok)                               // nothing set
		got, err := s.GetWorkflow(t.Context(), "wf")
		is.NoErr(err)                     // get
		is.Equal(norm(got), norm(before)) // the row is unchanged
	})

	t.Run("SetOutcome of an ended workflow is false for anyone", func(t *testing.T) {
		is := is.New(t)
		s := fencingStore(t, newStore)
		createOwned(t, s, "cancelled", "inst-a", 1)
		_, err := s.CancelWorkflow(t.Context(), store.CancelParams{WorkflowID: "cancelled", Now: at(2)})
		is.NoErr(err) // cancel
		ok, err := outcomeAs(t, s, "inst-a")
		is.NoErr(err) // the owner finishes
		is.True(ok)   // its workflow
		done, err := s.GetWorkflow(t.Context(), "wf")
		is.NoErr(err) // get

		ok, err = outcomeAs(t, s, "inst-b")
		is.NoErr(err) // an ended workflow is no error
		is.True(!ok)  // and takes no outcome
		ok, err = s.SetOutcome(t.Context(), store.OutcomeParams{WorkflowID: "cancelled", Status: store.StatusError,
			Error: []byte(`"x"`), Owner: "inst-b", Now: at(3)})
		is.NoErr(err) // a cancelled workflow is no error
		is.True(!ok)  // and takes no outcome
		got, err := s.GetWorkflow(t.Context(), "wf")
		is.NoErr(err)                   // get
		is.Equal(norm(got), norm(done)) // the first outcome stands
		_, err = s.SetOutcome(t.Context(), store.OutcomeParams{WorkflowID: "missing", Status: store.StatusSuccess, Owner: "inst-b"})
		is.True(errors.Is(err, store.ErrNotFound)) // a missing workflow
	})

	for _, w := range fencedWrites {
		for _, c := range []struct {
			name, owner  string
			kill, cancel bool // stop inst-a, cancel wf first
			err          error
		}{
			{"by the owner", "inst-a", false, false, nil},
			{"by another live instance", "inst-b", false, false, store.ErrNotOwner},
			{"by an unknown instance", "ghost", false, false, store.ErrNotOwner},
			{"by a dead owner", "inst-a", true, false, store.ErrNotOwner},
			{"for a cancelled workflow by the owner", "inst-a", false, true, store.ErrCancelled},
			{"for a cancelled workflow by another instance", "inst-b", false, true, store.ErrCancelled},
		} {
			t.Run(w.name+" "+c.name, func(t *testing.T) {
				is := is.New(t)
				s := fencingStore(t, newStore)
				if w.setup != nil {
					w.setup(t, s)
				}
				if c.kill {
					stop(t, s, "inst-a")
				}
				if c.cancel {
					_, err := s.CancelWorkflow(t.Context(), store.CancelParams{WorkflowID: "wf", Now: at(1)})
					is.NoErr(err) // cancel
				}
				err := w.write(t, s, c.owner)
				if c.err == nil {
					is.NoErr(err)                       // the owner writes
					is.Equal(len(steps(t, s, "wf")), 1) // its step is recorded
					is.True(w.wrote(t, s))              // with what it writes
					return
				}
				is.True(errors.Is(err, c.err))      // refused, ErrCancelled before ErrNotOwner
				is.Equal(len(steps(t, s, "wf")), 0) // no step recorded
				if c.cancel && w.blindOnCancel {
					return
				}
				is.True(!w.wrote(t, s)) // and nothing else written either
			})
		}
	}

	t.Run("WriteStream replayed by another instance is ErrNotOwner", func(t *testing.T) {
		is := is.New(t)
		s := fencingStore(t, newStore)
		write := func(owner string) error {
			return s.WriteStream(t.Context(), store.StreamWrite{WorkflowID: "wf", Key: "out", Value: []byte(`"v"`), Now: at(2),
				Step: &store.Step{WorkflowID: "wf", StepID: 1, Name: "write", Output: []byte("null"), CompletedAt: at(2)}, Owner: owner})
		}
		is.NoErr(write("inst-a"))                              // the owner writes
		is.True(errors.Is(write("inst-b"), store.ErrNotOwner)) // the same write by another is refused, not accepted as a replay
		vs, _, err := s.ReadStream(t.Context(), "wf", "out", 0)
		is.NoErr(err)        // read stream
		is.Equal(len(vs), 1) // one value
	})
}

// testNoWorkForTheDead checks that a dead or unknown instance is given no
// workflow, so that none escapes adoption.
func testNoWorkForTheDead(t *testing.T, newStore func(t *testing.T) store.Store) {
	owners := []struct{ name, id string }{{"unknown", "ghost"}, {"stopped", "gone"}}

	t.Run("CreateWorkflow", func(t *testing.T) {
		is := is.New(t)
		s := newStore(t)
		register(t, s, "live")
		register(t, s, "gone")
		stop(t, s, "gone")
		for _, o := range owners {
			p := params("wf-"+o.id, 0)
			p.Owner = o.id
			_, _, err := s.CreateWorkflow(t.Context(), p)
			is.True(errors.Is(err, store.ErrInstanceLost)) // a dead or unknown owner
			_, err = s.GetWorkflow(t.Context(), p.ID)
			is.True(errors.Is(err, store.ErrNotFound)) // nothing created
		}
		wf := createOwned(t, s, "wf-live", "live", 1)
		is.Equal(wf.Owner, "live") // a live instance owns what it creates
		got, err := s.GetWorkflow(t.Context(), "wf-live")
		is.NoErr(err)               // get
		is.Equal(got.Owner, "live") // as stored
		list, err := s.ListWorkflows(t.Context(), store.ListParams{Owner: "live"})
		is.NoErr(err)                            // list
		is.Equal(ids(list), []string{"wf-live"}) // by owner
	})

	t.Run("Claim", func(t *testing.T) {
		is := is.New(t)
		s := newStore(t)
		register(t, s, "live")
		register(t, s, "gone")
		stop(t, s, "gone")
		enqueue(t, s, enqueueParams("wf-1", "q", 0))
		for _, o := range owners {
			p := claimParams("q", 1, 1)
			p.Owner = o.id
			_, err := s.Claim(t.Context(), p)
			is.True(errors.Is(err, store.ErrInstanceLost)) // a dead or unknown owner
			wf, err := s.GetWorkflow(t.Context(), "wf-1")
			is.NoErr(err)                             // get
			is.Equal(wf.Status, store.StatusEnqueued) // nothing claimed
		}
		p := claimParams("q", 1, 2)
		p.Owner = "live"
		wfs, err := s.Claim(t.Context(), p)
		is.NoErr(err)                  // claim
		is.Equal(len(wfs), 1)          // a live instance claims
		is.Equal(wfs[0].Owner, "live") // and owns what it claimed
		got, err := s.GetWorkflow(t.Context(), "wf-1")
		is.NoErr(err)               // get
		is.Equal(got.Owner, "live") // as stored
	})

	t.Run("RecoverWorkflow", func(t *testing.T) {
		is := is.New(t)
		s := newStore(t)
		register(t, s, "gone")
		stop(t, s, "gone")
		before := create(t, s, params("wf-1", 0))
		for _, o := range owners {
			_, err := s.RecoverWorkflow(t.Context(), store.RecoverParams{
				WorkflowID: "wf-1", Owner: o.id, ExecutorID: "exec-b", MaxAttempts: -1, Now: at(1),
			})
			is.True(errors.Is(err, store.ErrInstanceLost)) // a dead or unknown owner adopts nothing
			got, err := s.GetWorkflow(t.Context(), "wf-1")
			is.NoErr(err)                     // get
			is.Equal(norm(got), norm(before)) // the orphan is unchanged
		}
	})
}
