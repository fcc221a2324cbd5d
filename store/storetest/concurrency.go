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

func testConcurrentAdoption(t *testing.T, newStore func(t *testing.T) store.Store, shared func(t *testing.T, s store.Store) store.Store) {
	// stores returns n stores on one new database, or skips the test if
	// Run was not told how to open more than one.
	stores := func(t *testing.T, n int) []store.Store {
		return sharedStores(t, newStore, shared, n)
	}

	t.Run("one of many adopters takes a dead instance's workflow", func(t *testing.T) {
		adoptRace(t, []store.Store{newStore(t)}, "gone")
	})
	t.Run("one of many adopters takes an unowned workflow", func(t *testing.T) {
		adoptRace(t, []store.Store{newStore(t)}, "")
	})
	t.Run("one of many adopters on several stores takes a dead instance's workflow", func(t *testing.T) {
		adoptRace(t, stores(t, 4), "gone")
	})
	t.Run("one of many adopters on several stores takes an unowned workflow", func(t *testing.T) {
		adoptRace(t, stores(t, 4), "")
	})
	t.Run("the former owner is fenced from the adoption on", func(t *testing.T) {
		s := newStore(t)
		fenceRace(t, s, s)
	})
	t.Run("the former owner on another store is fenced from the adoption on", func(t *testing.T) {
		ss := stores(t, 2)
		fenceRace(t, ss[0], ss[1])
	})
}

// adoptRace makes 16 live instances, registered through stores in turn,
// adopt a workflow owned by instance from (stopped first; "" for none)
// at once, and checks that exactly one of them takes it.
func adoptRace(t *testing.T, stores []store.Store, from string) {
	const n = 16
	is := is.New(t)
	s := stores[0]
	if from == "" {
		create(t, s, params("wf", 0))
	} else {
		register(t, s, from)
		createOwned(t, s, "wf", from, 0)
		stop(t, s, from)
	}
	owner := func(i int) string { return fmt.Sprintf("inst-%02d", i) }
	for i := range n {
		register(t, stores[i%len(stores)], owner(i))
	}

	rows := make([]store.Workflow, n)
	errs := make([]error, n)
	race(n, func(i int) {
		rows[i], errs[i] = stores[i%len(stores)].RecoverWorkflow(t.Context(), store.RecoverParams{
			WorkflowID: "wf", From: from, Owner: owner(i), ExecutorID: "exec-" + owner(i), MaxAttempts: -1, Now: at(i + 1),
		})
	})

	winner := -1
	for i := range n {
		is.NoErr(errs[i]) // every adopter's call succeeds
		if rows[i].Owner == owner(i) {
			is.Equal(winner, -1) // one adopter sees itself as Owner
			winner = i
		}
	}
	is.True(winner >= 0) // one adopter sees itself as Owner
	got, err := s.GetWorkflow(t.Context(), "wf")
	is.NoErr(err)                                   // get
	is.Equal(got.Owner, owner(winner))              // the stored owner is the one that saw itself as Owner
	is.Equal(got.ExecutorID, "exec-"+owner(winner)) // with its executor
	is.Equal(got.RecoveryAttempts, 2)               // one adoption counted, not one per adopter
	is.Equal(got.Status, store.StatusPending)       // still running
	for i := range n {
		is.Equal(norm(rows[i]), norm(got)) // every adopter is returned the row as it ended: the winner's
	}
}

// fenceRace has instance inst-a record steps of its workflow through sa
// while inst-b adopts it through sb, and checks that inst-a's steps are
// recorded up to the adoption and refused from then on.
func fenceRace(t *testing.T, sa, sb store.Store) {
	is := is.New(t)
	ctx := t.Context()
	register(t, sa, "inst-a")
	register(t, sb, "inst-b")
	createOwned(t, sa, "wf", "inst-a", 0)

	started := make(chan struct{}) // inst-a has recorded a few steps
	adopted := make(chan struct{}) // the adoption returned
	var adoptErr, refusal error
	recorded := 0
	race(2, func(i int) {
		if i == 1 {
			defer close(adopted)
			<-started
			_, adoptErr = sb.RecoverWorkflow(ctx, store.RecoverParams{
				WorkflowID: "wf", From: "inst-a", Owner: "inst-b", ExecutorID: "exec-b", MaxAttempts: -1, Now: at(1),
			})
			return
		}
		defer func() {
			if recorded < 4 {
				close(started) // never leave the adopter waiting
			}
		}()
		for n := 1; ; n++ {
			var after bool // the adoption returned before this write began
			select {
			case <-adopted:
				after = true
			default:
			}
			if err := sa.RecordStep(ctx, store.StepParams{Owner: "inst-a", Step: step("wf", n, "s", `1`)}); err != nil {
				refusal = err
				return
			}
			recorded = n
			if after {
				return // accepted after the adoption: the check below fails
			}
			if n == 4 {
				close(started)
			}
		}
	})

	is.NoErr(adoptErr)                             // the adoption succeeds
	is.True(errors.Is(refusal, store.ErrNotOwner)) // the former owner's writes are refused from the adoption on
	got := steps(t, sa, "wf")
	is.Equal(len(got), recorded) // exactly the steps accepted before the adoption are recorded
	for i, st := range got {
		is.Equal(st.StepID, i+1) // with no gap
	}
	is.NoErr(sb.RecordStep(ctx, store.StepParams{Owner: "inst-b", Step: step("wf", recorded+1, "s", `1`)})) // the new owner goes on
}
