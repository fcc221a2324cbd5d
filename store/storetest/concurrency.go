package storetest

import (
	"errors"
	"fmt"
	"slices"
	"sync"
	"testing"

	"github.com/matryer/is"

	"github.com/dboslite/dboslite/store"
)

// race runs fn(i) for i in [0, n) on n goroutines released together, so
// their calls reach the store at the same moment, and returns when all
// are done. fn must not fail the test: it runs off the test goroutine.
func race(n int, fn func(i int)) {
	start := make(chan struct{})
	var wg sync.WaitGroup
	for i := range n {
		wg.Go(func() {
			<-start
			fn(i)
		})
	}
	close(start)
	wg.Wait()
}

func testConcurrency(t *testing.T, newStore func(t *testing.T) store.Store) {
	t.Run("steps of many workflows at once", func(t *testing.T) {
		const owners, perOwner, racers = 32, 50, 32
		is := is.New(t)
		s := newStore(t)
		ctx := t.Context()
		ownerID := func(w int) string { return fmt.Sprintf("wf-%02d", w) }
		output := func(w, n int) string { return fmt.Sprintf(`"wf %d step %d"`, w, n) }
		for w := range owners {
			create(t, s, params(ownerID(w), w))
		}
		create(t, s, params("contested", 0))

		ownerErrs := make([]error, owners)
		raceErrs := make([]error, racers)
		race(owners+racers, func(i int) {
			if i >= owners { // a racer: all record step 1 of the same workflow
				r := i - owners
				raceErrs[r] = s.RecordStep(ctx, store.StepParams{Step: step("contested", 1, "debit", fmt.Sprintf(`"racer %d"`, r))})
				return
			}
			for n := 1; n <= perOwner; n++ {
				if err := s.RecordStep(ctx, store.StepParams{Step: step(ownerID(i), n, "s", output(i, n))}); err != nil {
					ownerErrs[i] = err
					return
				}
			}
		})

		for w, err := range ownerErrs {
			is.NoErr(err) // an owner records every step of its workflow
			got := steps(t, s, ownerID(w))
			is.Equal(len(got), perOwner) // every step of the workflow is recorded
			for i, st := range got {
				is.Equal(st.StepID, i+1)                    // steps in order
				is.Equal(string(st.Output), output(w, i+1)) // each step holds its own output
			}
		}
		winner := -1
		for r, err := range raceErrs {
			if err == nil {
				is.Equal(winner, -1) // one racer records the step
				winner = r
				continue
			}
			is.True(errors.Is(err, store.ErrConflict)) // the other racers conflict
		}
		is.True(winner >= 0) // one racer records the step
		got := steps(t, s, "contested")
		is.Equal(len(got), 1)                                              // the contested step is recorded once
		is.Equal(string(got[0].Output), fmt.Sprintf(`"racer %d"`, winner)) // the stored output is the winner's
	})

	t.Run("one create wins", func(t *testing.T) {
		const n = 16
		is := is.New(t)
		s := newStore(t)
		rows := make([]store.Workflow, n)
		created := make([]bool, n)
		errs := make([]error, n)
		race(n, func(i int) {
			p := params("wf-1", i)
			p.ExecutorID = fmt.Sprintf("exec-%d", i)
			rows[i], created[i], errs[i] = s.CreateWorkflow(t.Context(), p)
		})

		winner := -1
		for i := range n {
			is.NoErr(errs[i]) // concurrent creates all succeed
			if created[i] {
				is.Equal(winner, -1) // one create creates the workflow
				winner = i
			}
		}
		is.True(winner >= 0) // one create creates the workflow
		stored, err := s.GetWorkflow(t.Context(), "wf-1")
		is.NoErr(err)                                               // get
		is.Equal(stored.ExecutorID, fmt.Sprintf("exec-%d", winner)) // the stored row is the creator's
		for i := range n {
			is.Equal(norm(rows[i]), norm(stored)) // every create returns the stored row
		}
	})

	t.Run("one outcome wins", func(t *testing.T) {
		const n = 16
		is := is.New(t)
		s := newStore(t)
		create(t, s, params("wf-1", 0))
		set := make([]bool, n)
		errs := make([]error, n)
		race(n, func(i int) {
			set[i], errs[i] = s.SetOutcome(t.Context(), store.OutcomeParams{
				WorkflowID: "wf-1", Status: store.StatusSuccess, Output: fmt.Appendf(nil, `"out %d"`, i), Now: at(i + 1),
			})
		})

		winner := -1
		for i := range n {
			is.NoErr(errs[i]) // a late outcome is not an error
			if set[i] {
				is.Equal(winner, -1) // one outcome is written
				winner = i
			}
		}
		is.True(winner >= 0) // one outcome is written
		got, err := s.GetWorkflow(t.Context(), "wf-1")
		is.NoErr(err)                                                 // get
		is.Equal(string(got.Output), fmt.Sprintf(`"out %d"`, winner)) // the stored outcome is the winner's
	})

	t.Run("every recovery is counted", func(t *testing.T) {
		const n = 16
		is := is.New(t)
		s := newStore(t)
		create(t, s, params("wf-1", 0))
		attempts := make([]int, n)
		errs := make([]error, n)
		race(n, func(i int) {
			wf, err := s.RecoverWorkflow(t.Context(), store.RecoverParams{
				WorkflowID: "wf-1", ExecutorID: "exec-b", MaxAttempts: -1, Now: at(i + 1),
			})
			attempts[i], errs[i] = wf.RecoveryAttempts, err
		})

		want := make([]int, n)
		for i := range n {
			is.NoErr(errs[i]) // recover
			want[i] = i + 2
		}
		slices.Sort(attempts)
		is.Equal(attempts, want) // each recovery sees its own count: none is lost
	})
}
