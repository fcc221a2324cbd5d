package storetest

import (
	"errors"
	"testing"
	"time"

	"github.com/matryer/is"

	"github.com/dboslite/dboslite/store"
)

// step returns step n of a workflow that succeeded with output.
func step(wfID string, n int, name, output string) store.Step {
	return store.Step{
		WorkflowID:  wfID,
		StepID:      n,
		Name:        name,
		Output:      []byte(output),
		StartedAt:   at(n),
		CompletedAt: at(n).Add(250 * time.Millisecond),
	}
}

// record records steps that must not be recorded yet.
func record(t *testing.T, s store.Store, steps ...store.Step) {
	is := is.New(t)
	for _, st := range steps {
		is.NoErr(s.RecordStep(t.Context(), store.StepParams{Step: st})) // record step
	}
}

// steps returns the recorded steps of a workflow.
func steps(t *testing.T, s store.Store, wfID string) []store.Step {
	is := is.New(t)
	got, err := s.Steps(t.Context(), wfID)
	is.NoErr(err) // read steps
	return got
}

func testRecordStep(t *testing.T, newStore func(t *testing.T) store.Store) {
	t.Run("steps round-trip", func(t *testing.T) {
		is := is.New(t)
		s := newStore(t)
		create(t, s, params("wf-1", 0))
		create(t, s, params("wf-2", 0))
		ok := step("wf-1", 1, "debit", `{"balance":900}`)
		failed := store.Step{
			WorkflowID: "wf-1", StepID: 2, Name: "credit", Error: []byte(`{"msg":"account closed"}`),
			StartedAt: at(2), CompletedAt: at(3),
		}
		child := step("wf-1", 3, "notify", `"child-7"`)
		child.ChildID = "child-7"
		record(t, s, ok, failed, child, step("wf-2", 1, "other", `1`))

		got := steps(t, s, "wf-1")
		is.Equal(normSteps(got), normSteps([]store.Step{ok, failed, child})) // the workflow's steps as recorded
		is.Equal(got[1].Output, nil)                                         // a failed step has no output
		is.Equal(got[0].Error, nil)                                          // a successful step has no error
	})

	t.Run("steps read back by StepID", func(t *testing.T) {
		is := is.New(t)
		s := newStore(t)
		create(t, s, params("wf-1", 0))
		for _, n := range []int{3, 10, 1, 2} {
			record(t, s, step("wf-1", n, "s", "x"))
		}
		var order []int
		for _, st := range steps(t, s, "wf-1") {
			order = append(order, st.StepID)
		}
		is.Equal(order, []int{1, 2, 3, 10}) // numeric StepID order, not insertion order
	})

	t.Run("workflow with no steps", func(t *testing.T) {
		is := is.New(t)
		s := newStore(t)
		create(t, s, params("wf-1", 0))
		is.Equal(len(steps(t, s, "wf-1")), 0) // nothing recorded
	})

	t.Run("identical second write is accepted", func(t *testing.T) {
		is := is.New(t)
		s := newStore(t)
		create(t, s, params("wf-1", 0))
		first := step("wf-1", 1, "debit", `{"balance":900}`)
		record(t, s, first)

		again := first
		again.StartedAt, again.CompletedAt = at(40), at(41)
		is.NoErr(s.RecordStep(t.Context(), store.StepParams{Step: again}))       // same result again is not an error
		is.Equal(normSteps(steps(t, s, "wf-1")), normSteps([]store.Step{first})) // the first record stands
	})

	conflicts := []struct {
		name   string
		change func(*store.Step)
	}{
		{"different output", func(st *store.Step) { st.Output = []byte(`{"balance":800}`) }},
		{"error instead of output", func(st *store.Step) { st.Output, st.Error = nil, []byte(`"boom"`) }},
		{"no output", func(st *store.Step) { st.Output = nil }},
		{"different name", func(st *store.Step) { st.Name = "credit" }},
		{"different child", func(st *store.Step) { st.ChildID = "child-2" }},
	}
	for _, c := range conflicts {
		t.Run("second write with "+c.name+" is ErrConflict", func(t *testing.T) {
			is := is.New(t)
			s := newStore(t)
			create(t, s, params("wf-1", 0))
			first := step("wf-1", 1, "debit", `{"balance":900}`)
			first.ChildID = "child-1"
			record(t, s, first)

			other := first
			c.change(&other)
			err := s.RecordStep(t.Context(), store.StepParams{Step: other})
			is.True(errors.Is(err, store.ErrConflict))                               // a step is recorded once
			is.Equal(normSteps(steps(t, s, "wf-1")), normSteps([]store.Step{first})) // the first record stands
		})
	}

	t.Run("error steps conflict on a different error", func(t *testing.T) {
		is := is.New(t)
		s := newStore(t)
		create(t, s, params("wf-1", 0))
		first := store.Step{WorkflowID: "wf-1", StepID: 1, Name: "debit", Error: []byte(`"boom"`), CompletedAt: at(1)}
		record(t, s, first)

		other := first
		other.Error = []byte(`"bang"`)
		is.True(errors.Is(s.RecordStep(t.Context(), store.StepParams{Step: other}), store.ErrConflict)) // a different error conflicts
		is.NoErr(s.RecordStep(t.Context(), store.StepParams{Step: first}))                              // the same error is accepted
		got := steps(t, s, "wf-1")
		is.Equal(len(got), 1)                    // one record
		is.Equal(string(got[0].Error), `"boom"`) // the first error stands
	})

	t.Run("missing workflow is ErrNotFound", func(t *testing.T) {
		is := is.New(t)
		s := newStore(t)
		create(t, s, params("wf-1", 0))
		err := s.RecordStep(t.Context(), store.StepParams{Step: step("wf-2", 1, "debit", `1`)})
		is.True(errors.Is(err, store.ErrNotFound)) // unknown workflow
		is.Equal(len(steps(t, s, "wf-2")), 0)      // nothing recorded
	})
}
