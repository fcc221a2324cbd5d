package storetest

import (
	"errors"
	"testing"
	"time"

	"github.com/matryer/is"

	"github.com/dboslite/dboslite/store"
)

func testQueueDepths(t *testing.T, newStore func(t *testing.T) store.Store) {
	is := is.New(t)
	s := newStore(t)
	ctx := t.Context()
	depths, err := s.QueueDepths(ctx)
	is.NoErr(err)            // depths of an empty store
	is.Equal(len(depths), 0) // no queue has any

	for i, id := range []string{"m-1", "m-2", "m-3"} {
		enqueue(t, s, enqueueParams(id, "mail", i))
	}
	enqueue(t, s, enqueueParams("s-1", "sms", 4))
	enqueue(t, s, enqueueParams("a-1", "audit", 5))
	create(t, s, params("plain", 6)) // PENDING in no queue
	is.Equal(claim(t, s, claimParams("mail", 1, 10)), []string{"m-1"})
	is.Equal(claim(t, s, claimParams("audit", 1, 10)), []string{"a-1"})
	finish(t, s, "a-1", 11)

	depths, err = s.QueueDepths(ctx)
	is.NoErr(err) // depths
	is.Equal(depths, []store.QueueDepth{
		{Queue: "mail", Enqueued: 2, Pending: 1},
		{Queue: "sms", Enqueued: 1},
	}) // the queues with active workflows, by name
}

// resumable makes workflow id end with status st: created at at(n),
// with a deadline, owned by instance "inst" (registered already) and with
// one step recorded.
func resumable(t *testing.T, s store.Store, id string, st store.Status, n int) {
	is := is.New(t)
	ctx := t.Context()
	p := params(id, n)
	p.Owner = "inst"
	p.Deadline = at(n + 100)
	create(t, s, p)
	record(t, s, step(id, 1, "debit", `"ok"`))
	switch st {
	case store.StatusError:
		ok, err := s.SetOutcome(ctx, store.OutcomeParams{WorkflowID: id, Status: st, Error: []byte(`"boom"`), Owner: "inst", Now: at(n + 1)})
		is.NoErr(err) // fail
		is.True(ok)   // failed
	case store.StatusCancelled:
		_, err := s.CancelWorkflow(ctx, store.CancelParams{WorkflowID: id, Reason: []byte(`"stop"`), Now: at(n + 1)})
		is.NoErr(err) // cancel
	case store.StatusMaxRecoveryAttemptsExceeded:
		wf, err := s.RecoverWorkflow(ctx, store.RecoverParams{WorkflowID: id, From: "inst", Owner: "inst", MaxAttempts: 0, Now: at(n + 1)})
		is.NoErr(err)           // recover once too often
		is.Equal(wf.Status, st) // stopped
	}
}

func testResumeWorkflow(t *testing.T, newStore func(t *testing.T) store.Store) {
	for _, st := range []store.Status{store.StatusError, store.StatusCancelled, store.StatusMaxRecoveryAttemptsExceeded} {
		t.Run(string(st)+" runs again, adopted", func(t *testing.T) {
			is := is.New(t)
			s := newStore(t)
			ctx := t.Context()
			register(t, s, "inst")
			resumable(t, s, "wf", st, 0)
			before, err := s.GetWorkflow(ctx, "wf")
			is.NoErr(err) // get

			wf, err := s.ResumeWorkflow(ctx, store.ResumeParams{WorkflowID: "wf", Now: at(50)})
			is.NoErr(err) // resume
			want := before
			want.Status, want.Owner, want.RecoveryAttempts = store.StatusPending, "", 0
			want.Deadline, want.Output, want.Error, want.CompletedAt = time.Time{}, nil, nil, time.Time{}
			want.UpdatedAt = at(50)
			is.Equal(norm(wf), norm(want)) // PENDING with no owner, attempts, deadline, outcome and completion cleared
			got, err := s.GetWorkflow(ctx, "wf")
			is.NoErr(err)                           // get
			is.Equal(norm(got), norm(want))         // as stored
			is.Equal(len(steps(t, s, "wf")), 1)     // its steps are kept
			is.Equal(orphans(t, s), []string{"wf"}) // for a live engine to adopt
			adopted := adopt(t, s, "wf", "", "inst", 3, 51)
			is.Equal(adopted.RecoveryAttempts, 1) // the adopting run counts one
		})
	}

	t.Run("a queued workflow goes back to its queue", func(t *testing.T) {
		is := is.New(t)
		s := newStore(t)
		ctx := t.Context()
		p := enqueueParams("q-1", "mail", 0)
		p.DeduplicationID, p.Timeout = "d-1", time.Minute
		enqueue(t, s, p)
		is.Equal(claim(t, s, claimParams("mail", 1, 1)), []string{"q-1"})
		ok, err := s.SetOutcome(ctx, store.OutcomeParams{WorkflowID: "q-1", Status: store.StatusError, Error: []byte(`"x"`), Now: at(2)})
		is.NoErr(err) // fail
		is.True(ok)   // failed
		again := enqueueParams("q-2", "mail", 3)
		again.DeduplicationID = "d-1"
		enqueue(t, s, again) // takes the deduplication ID q-1 released

		wf, err := s.ResumeWorkflow(ctx, store.ResumeParams{WorkflowID: "q-1", Now: at(4)})
		is.NoErr(err)                             // resume, though another holds its deduplication ID
		is.Equal(wf.Status, store.StatusEnqueued) // back in its queue
		is.Equal(wf.QueueName, "mail")            // the same queue
		is.Equal(wf.RecoveryAttempts, 0)          // not run yet
		is.True(wf.StartedAt.IsZero())            // not claimed
		is.True(wf.Deadline.IsZero())             // the timeout runs from the next claim
		is.Equal(wf.DeduplicationID, "")          // the ID is released
		is.Equal(wf.Timeout, time.Minute)         // the timeout is kept
		got := claim(t, s, claimParams("mail", 2, 5))
		is.Equal(got, []string{"q-1", "q-2"}) // claimed again, in its place
		claimed, err := s.GetWorkflow(ctx, "q-1")
		is.NoErr(err)                                      // get
		is.Equal(claimed.RecoveryAttempts, 1)              // the claim counts one
		is.Equal(claimed.Deadline, at(5).Add(time.Minute)) // a new deadline
	})

	t.Run("active and successful workflows are unchanged", func(t *testing.T) {
		is := is.New(t)
		s := newStore(t)
		ctx := t.Context()
		create(t, s, params("pending", 0))
		enqueue(t, s, enqueueParams("enqueued", "mail", 1))
		create(t, s, params("done", 2))
		finish(t, s, "done", 3)
		for _, id := range []string{"pending", "enqueued", "done"} {
			before, err := s.GetWorkflow(ctx, id)
			is.NoErr(err) // get
			wf, err := s.ResumeWorkflow(ctx, store.ResumeParams{WorkflowID: id, Now: at(9)})
			is.NoErr(err)                    // resume
			is.Equal(norm(wf), norm(before)) // returned unchanged
			after, err := s.GetWorkflow(ctx, id)
			is.NoErr(err)                       // get
			is.Equal(norm(after), norm(before)) // and stored unchanged
		}
	})

	t.Run("a missing workflow is not found", func(t *testing.T) {
		is := is.New(t)
		s := newStore(t)
		_, err := s.ResumeWorkflow(t.Context(), store.ResumeParams{WorkflowID: "nope"})
		is.True(errors.Is(err, store.ErrNotFound)) // ErrNotFound
	})
}

// gone reports whether a workflow is gone, with everything it owned.
func gone(t *testing.T, s store.Store, id string) bool {
	is := is.New(t)
	ctx := t.Context()
	_, err := s.GetWorkflow(ctx, id)
	if err == nil {
		return false
	}
	is.True(errors.Is(err, store.ErrNotFound)) // the row is gone
	// A workflow of the same ID starts with nothing: what the old one
	// owned went with it.
	create(t, s, params(id, 90))
	is.Equal(len(steps(t, s, id)), 0) // no steps left
	_, ok, err := s.GetEvent(ctx, id, "k")
	is.NoErr(err) // get event
	is.True(!ok)  // no event left
	entries, closed, err := s.ReadStream(ctx, id, "out", 0)
	is.NoErr(err)                         // read stream
	is.True(len(entries) == 0 && !closed) // no stream left
	_, ok, err = s.ConsumeMessage(ctx, store.ConsumeParams{WorkflowID: id, Topic: "t",
		Step: store.Step{WorkflowID: id, StepID: 1, Name: "recv"}})
	is.NoErr(err) // consume
	is.True(!ok)  // no message left
	_, err = s.DeleteWorkflows(ctx, store.DeleteParams{IDs: []string{id}})
	is.NoErr(err) // and away again
	return true
}

// owning creates workflow id at at(n) with a step, an event with its
// history, a stream and a message.
func owning(t *testing.T, s store.Store, p store.WorkflowCreateParams) {
	is := is.New(t)
	ctx := t.Context()
	create(t, s, p)
	record(t, s, step(p.ID, 1, "a", `"1"`))
	ev := &store.Step{WorkflowID: p.ID, StepID: 2, Name: "setEvent", Output: []byte("null")}
	is.NoErr(s.SetEvent(ctx, store.EventParams{WorkflowID: p.ID, Key: "k", Value: []byte("1"), Step: ev})) // set event
	w := &store.Step{WorkflowID: p.ID, StepID: 3, Name: "write", Output: []byte("null")}
	is.NoErr(s.WriteStream(ctx, store.StreamWrite{WorkflowID: p.ID, Key: "out", Value: []byte("1"), Step: w})) // write stream
	send(t, s, p.ID, "t", `"hi"`)
}

func testDeleteWorkflows(t *testing.T, newStore func(t *testing.T) store.Store) {
	// tree: root → c1 → g1, root → c2; other stands alone.
	tree := func(t *testing.T, s store.Store) {
		for i, w := range []struct{ id, parent string }{
			{"root", ""}, {"c1", "root"}, {"g1", "c1"}, {"c2", "root"}, {"other", ""},
		} {
			p := params(w.id, i)
			p.ParentID = w.parent
			owning(t, s, p)
		}
	}

	t.Run("without children", func(t *testing.T) {
		is := is.New(t)
		s := newStore(t)
		tree(t, s)
		n, err := s.DeleteWorkflows(t.Context(), store.DeleteParams{IDs: []string{"c1", "nope"}})
		is.NoErr(err)             // delete
		is.Equal(n, 1)            // the one that exists
		is.True(gone(t, s, "c1")) // gone with what it owned
		for _, id := range []string{"root", "g1", "c2", "other"} {
			is.True(!gone(t, s, id)) // the others stay, its child too
		}
		is.Equal(len(steps(t, s, "g1")), 3) // with what they own
	})

	t.Run("with children", func(t *testing.T) {
		is := is.New(t)
		s := newStore(t)
		tree(t, s)
		n, err := s.DeleteWorkflows(t.Context(), store.DeleteParams{IDs: []string{"root"}, Children: true})
		is.NoErr(err)  // delete
		is.Equal(n, 4) // the root and its descendants
		for _, id := range []string{"root", "c1", "g1", "c2"} {
			is.True(gone(t, s, id)) // gone, with what they owned
		}
		is.True(!gone(t, s, "other"))          // the unrelated workflow stays
		is.Equal(len(steps(t, s, "other")), 3) // with what it owns
	})

	t.Run("a cycle of parents ends", func(t *testing.T) {
		is := is.New(t)
		s := newStore(t)
		a, b := params("a", 0), params("b", 1)
		a.ParentID, b.ParentID = "b", "a"
		create(t, s, a)
		create(t, s, b)
		n, err := s.DeleteWorkflows(t.Context(), store.DeleteParams{IDs: []string{"a"}, Children: true})
		is.NoErr(err)  // delete
		is.Equal(n, 2) // both, once
	})

	t.Run("no IDs delete nothing", func(t *testing.T) {
		is := is.New(t)
		s := newStore(t)
		create(t, s, params("wf", 0))
		n, err := s.DeleteWorkflows(t.Context(), store.DeleteParams{Children: true})
		is.NoErr(err)  // delete
		is.Equal(n, 0) // nothing
		is.True(!gone(t, s, "wf"))
	})
}
