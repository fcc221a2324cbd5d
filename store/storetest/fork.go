package storetest

import (
	"errors"
	"testing"

	"github.com/matryer/is"

	"github.com/dboslite/dboslite/store"
)

// forkSource creates workflow "src" with eight steps, and what they
// wrote: events, stream entries, a closed stream. Between them it sets an
// event and writes a stream entry without a step, as code inside a step
// does.
func forkSource(t *testing.T, s store.Store) {
	is := is.New(t)
	ctx := t.Context()
	create(t, s, params("src", 0))
	first := step("src", 1, "fetch", `"f"`)
	first.ChildID = "child-1"
	record(t, s, first)
	op := func(n int, name string) *store.Step {
		return &store.Step{WorkflowID: "src", StepID: n, Name: name, Output: []byte("null"), StartedAt: at(n), CompletedAt: at(n)}
	}
	event := func(key, value string, st *store.Step) {
		is.NoErr(s.SetEvent(ctx, store.EventParams{WorkflowID: "src", Key: key, Value: []byte(value), Now: at(10), Step: st})) // set event
	}
	write := func(key, value string, st *store.Step) {
		is.NoErr(s.WriteStream(ctx, store.StreamWrite{WorkflowID: "src", Key: key, Value: []byte(value), Close: value == "",
			Now: at(10), Step: st})) // write stream
	}
	event("progress", "0.25", op(2, "setEvent"))
	write("out", "a", op(3, "write"))
	write("out", "inside", nil)
	event("loose", "1", nil)
	event("progress", "0.5", op(4, "setEvent"))
	write("out", "b", op(5, "write"))
	event("other", `"x"`, op(6, "setEvent"))
	write("log", "l", op(7, "write"))
	write("out", "", op(8, "close"))
	ok, err := s.SetOutcome(ctx, store.OutcomeParams{WorkflowID: "src", Status: store.StatusError, Error: []byte(`"boom"`), Now: at(11)})
	is.NoErr(err) // fail the source
	is.True(ok)   // failed
}

// fork forks "src" as p says, which must succeed.
func fork(t *testing.T, s store.Store, p store.ForkParams) store.Workflow {
	is := is.New(t)
	p.SourceID = "src"
	wf, err := s.ForkWorkflow(t.Context(), p)
	is.NoErr(err) // fork
	return wf
}

// events returns the values of keys of workflow id, "" for one not set.
func events(t *testing.T, s store.Store, id string, keys ...string) []string {
	is := is.New(t)
	out := make([]string, len(keys))
	for i, k := range keys {
		v, ok, err := s.GetEvent(t.Context(), id, k)
		is.NoErr(err) // get event
		if ok {
			out[i] = string(v)
		}
	}
	return out
}

// stream returns the values of a stream, with offsets, and whether it is
// closed.
func stream(t *testing.T, s store.Store, id, key string) ([]store.StreamEntry, bool) {
	is := is.New(t)
	entries, closed, err := s.ReadStream(t.Context(), id, key, 0)
	is.NoErr(err) // read stream
	return entries, closed
}

// copiedSteps returns the source's steps below start as the fork's.
func copiedSteps(t *testing.T, s store.Store, fork string, start int) []store.Step {
	var out []store.Step
	for _, st := range steps(t, s, "src") {
		if st.StepID < start {
			st.WorkflowID = fork
			out = append(out, st)
		}
	}
	return normSteps(out)
}

func testForkWorkflow(t *testing.T, newStore func(t *testing.T) store.Store) {
	entry := func(n int, v string) store.StreamEntry { return store.StreamEntry{Offset: n, Value: []byte(v)} }

	t.Run("copies what the steps below StartStep wrote", func(t *testing.T) {
		is := is.New(t)
		s := newStore(t)
		forkSource(t, s)
		src, err := s.GetWorkflow(t.Context(), "src")
		is.NoErr(err) // get the source
		wf := fork(t, s, store.ForkParams{NewID: "f5", StartStep: 5, Now: at(50)})
		want := store.Workflow{ID: "f5", Name: src.Name, Status: store.StatusPending, Input: src.Input,
			ExecutorID: wf.ExecutorID, ApplicationVersion: "v1", ApplicationName: "bank", CreatedAt: at(50), UpdatedAt: at(50)}
		is.Equal(norm(wf), norm(want)) // a new PENDING workflow with the source's name and input, no owner, no parent
		got, err := s.GetWorkflow(t.Context(), "f5")
		is.NoErr(err)                                                                       // get the fork
		is.Equal(norm(got), norm(want))                                                     // as stored
		is.Equal(normSteps(steps(t, s, "f5")), copiedSteps(t, s, "f5", 5))                  // steps 1 to 4, child IDs and all
		is.Equal(events(t, s, "f5", "progress", "other", "loose"), []string{"0.5", "", ""}) // each event as the last copied step set it
		out, closed := stream(t, s, "f5", "out")
		is.Equal(out, []store.StreamEntry{entry(0, "a")}) // the entry a copied step wrote, not one from inside a step
		is.True(!closed)                                  // the close was not copied
		log, _ := stream(t, s, "f5", "log")
		is.Equal(len(log), 0)                   // nor the later stream
		is.Equal(orphans(t, s), []string{"f5"}) // for a live engine to adopt

		w := &store.Step{WorkflowID: "f5", StepID: 5, Name: "write", Output: []byte("null")}
		is.NoErr(s.WriteStream(t.Context(), store.StreamWrite{WorkflowID: "f5", Key: "out", Value: []byte("b2"), Step: w})) // the fork's own step 5
		out, _ = stream(t, s, "f5", "out")
		is.Equal(out, []store.StreamEntry{entry(0, "a"), entry(1, "b2")}) // goes on after the copied entries
	})

	t.Run("enqueued, with another input and version", func(t *testing.T) {
		is := is.New(t)
		s := newStore(t)
		forkSource(t, s)
		wf := fork(t, s, store.ForkParams{NewID: "f3", StartStep: 3, Queue: "mail", Input: []byte(`"new"`),
			ApplicationVersion: "v2", Now: at(50)})
		is.Equal(wf.Status, store.StatusEnqueued)                          // enqueued
		is.Equal(wf.QueueName, "mail")                                     // in the queue asked for
		is.Equal(string(wf.Input), `"new"`)                                // with the input asked for
		is.Equal(wf.ApplicationVersion, "v2")                              // for engines of that version
		is.Equal(wf.RecoveryAttempts, 0)                                   // not run yet
		is.Equal(normSteps(steps(t, s, "f3")), copiedSteps(t, s, "f3", 3)) // steps 1 and 2
		is.Equal(events(t, s, "f3", "progress"), []string{"0.25"})         // the value step 2 set
		out, _ := stream(t, s, "f3", "out")
		is.Equal(len(out), 0) // no entry: step 3 wrote the first
		p := claimParams("mail", 1, 51)
		p.ApplicationVersion = "v2"
		is.Equal(claim(t, s, p), []string{"f3"}) // claimed from its queue
	})

	t.Run("everything, a closed stream too", func(t *testing.T) {
		is := is.New(t)
		s := newStore(t)
		forkSource(t, s)
		fork(t, s, store.ForkParams{NewID: "f9", StartStep: 9})
		is.Equal(len(steps(t, s, "f9")), 8)                                                    // every step
		is.Equal(events(t, s, "f9", "progress", "other", "loose"), []string{"0.5", `"x"`, ""}) // the events steps set
		out, closed := stream(t, s, "f9", "out")
		is.Equal(out, []store.StreamEntry{entry(0, "a"), entry(1, "b")}) // renumbered without the entry from inside a step
		is.True(closed)                                                  // closed by a copied step
		log, closed := stream(t, s, "f9", "log")
		is.Equal(log, []store.StreamEntry{entry(0, "l")}) // every stream
		is.True(!closed)                                  // open
	})

	t.Run("from the first step, nothing", func(t *testing.T) {
		is := is.New(t)
		s := newStore(t)
		forkSource(t, s)
		fork(t, s, store.ForkParams{NewID: "f1", StartStep: 1})
		is.Equal(len(steps(t, s, "f1")), 0)                                              // no step
		is.Equal(events(t, s, "f1", "progress", "other", "loose"), []string{"", "", ""}) // no event
		out, closed := stream(t, s, "f1", "out")
		is.True(len(out) == 0 && !closed) // no stream
	})

	t.Run("is idempotent by NewID", func(t *testing.T) {
		is := is.New(t)
		s := newStore(t)
		forkSource(t, s)
		first := fork(t, s, store.ForkParams{NewID: "f5", StartStep: 5, Now: at(50)})
		again := fork(t, s, store.ForkParams{NewID: "f5", StartStep: 2, Input: []byte(`"other"`), Queue: "mail", Now: at(60)})
		is.Equal(norm(again), norm(first))       // the first fork, unchanged
		is.Equal(again.Position, first.Position) // at its place
		is.Equal(len(steps(t, s, "f5")), 4)      // with its steps
		wf, err := s.ForkWorkflow(t.Context(), store.ForkParams{SourceID: "gone", NewID: "f5", StartStep: 1})
		is.NoErr(err)                   // a fork asked for again after its source went
		is.Equal(norm(wf), norm(first)) // is the fork
		n, err := s.DeleteWorkflows(t.Context(), store.DeleteParams{IDs: []string{"f5"}})
		is.NoErr(err)  // delete it
		is.Equal(n, 1) // gone
	})

	t.Run("refusals", func(t *testing.T) {
		is := is.New(t)
		s := newStore(t)
		forkSource(t, s)
		_, err := s.ForkWorkflow(t.Context(), store.ForkParams{SourceID: "nope", NewID: "f", StartStep: 1})
		is.True(errors.Is(err, store.ErrNotFound)) // a missing source
		_, err = s.ForkWorkflow(t.Context(), store.ForkParams{SourceID: "src", NewID: "f", StartStep: 0})
		is.True(err != nil) // StartStep below 1
		_, err = s.GetWorkflow(t.Context(), "f")
		is.True(errors.Is(err, store.ErrNotFound)) // nothing created
	})
}
