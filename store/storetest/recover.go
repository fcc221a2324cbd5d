package storetest

import (
	"errors"
	"strconv"
	"testing"

	"github.com/matryer/is"

	"github.com/dboslite/dboslite/store"
)

// recoverOnce recovers a workflow for executor exec-b at at(n).
func recoverOnce(t *testing.T, s store.Store, id string, maxAttempts, n int) store.Workflow {
	is := is.New(t)
	wf, err := s.RecoverWorkflow(t.Context(), store.RecoverParams{
		WorkflowID: id, ExecutorID: "exec-b", MaxAttempts: maxAttempts, Now: at(n),
	})
	is.NoErr(err) // recover
	return wf
}

// adopt hands workflow id from instance from to instance owner at at(n),
// as executor exec-<owner>, and checks that owner has it.
func adopt(t *testing.T, s store.Store, id, from, owner string, maxAttempts, n int) store.Workflow {
	is := is.New(t)
	wf, err := s.RecoverWorkflow(t.Context(), store.RecoverParams{
		WorkflowID: id, From: from, Owner: owner, ExecutorID: "exec-" + owner, MaxAttempts: maxAttempts, Now: at(n),
	})
	is.NoErr(err)             // recover
	is.Equal(wf.Owner, owner) // adopted by the new owner
	return wf
}

func testRecoverWorkflow(t *testing.T, newStore func(t *testing.T) store.Store) {
	t.Run("counts the attempt and takes the workflow", func(t *testing.T) {
		is := is.New(t)
		s := newStore(t)
		create(t, s, params("wf-1", 0))

		wf := recoverOnce(t, s, "wf-1", -1, 1)
		is.Equal(wf.RecoveryAttempts, 2)         // one recovery after the first run
		is.Equal(wf.ExecutorID, "exec-b")        // taken by the recovering executor
		is.Equal(wf.Status, store.StatusPending) // still PENDING
		is.True(wf.CompletedAt.IsZero())         // not completed
		got, err := s.GetWorkflow(t.Context(), "wf-1")
		is.NoErr(err)                 // get
		is.Equal(norm(got), norm(wf)) // recover returns the row as stored
	})

	t.Run("stops past MaxAttempts", func(t *testing.T) {
		is := is.New(t)
		s := newStore(t)
		create(t, s, params("wf-1", 0))

		for attempts := 2; attempts <= 3; attempts++ {
			wf := recoverOnce(t, s, "wf-1", 2, attempts)
			is.Equal(wf.RecoveryAttempts, attempts)  // attempts counted
			is.Equal(wf.Status, store.StatusPending) // within MaxAttempts+1, still PENDING
			is.True(wf.CompletedAt.IsZero())         // not completed
		}
		wf := recoverOnce(t, s, "wf-1", 2, 4)
		is.Equal(wf.RecoveryAttempts, 4)                             // the attempt past the limit is counted
		is.Equal(wf.Status, store.StatusMaxRecoveryAttemptsExceeded) // 4 > MaxAttempts+1 stops the workflow
		is.Equal(wf.CompletedAt.UTC(), at(4).UTC())                  // completed when stopped
		got, err := s.GetWorkflow(t.Context(), "wf-1")
		is.NoErr(err)                 // get
		is.Equal(norm(got), norm(wf)) // recover returns the row as stored

		again := recoverOnce(t, s, "wf-1", 2, 5)
		is.Equal(norm(again), norm(wf)) // a stopped workflow is not recovered again
	})

	t.Run("MaxAttempts 0 allows no recovery", func(t *testing.T) {
		is := is.New(t)
		s := newStore(t)
		create(t, s, params("wf-1", 0))
		wf := recoverOnce(t, s, "wf-1", 0, 1)
		is.Equal(wf.RecoveryAttempts, 2)                             // attempt counted
		is.Equal(wf.Status, store.StatusMaxRecoveryAttemptsExceeded) // stopped at once
	})

	t.Run("negative MaxAttempts is unlimited", func(t *testing.T) {
		is := is.New(t)
		s := newStore(t)
		create(t, s, params("wf-1", 0))
		var wf store.Workflow
		for i := range 20 {
			wf = recoverOnce(t, s, "wf-1", -1, i+1)
		}
		is.Equal(wf.RecoveryAttempts, 21)        // every recovery counted
		is.Equal(wf.Status, store.StatusPending) // never stopped
	})

	t.Run("finished workflow is returned unchanged", func(t *testing.T) {
		is := is.New(t)
		s := newStore(t)
		create(t, s, params("wf-1", 0))
		finish(t, s, "wf-1", 1)
		done, err := s.GetWorkflow(t.Context(), "wf-1")
		is.NoErr(err) // get

		wf := recoverOnce(t, s, "wf-1", -1, 2)
		is.Equal(norm(wf), norm(done))    // recover returns the finished row
		is.Equal(wf.RecoveryAttempts, 1)  // attempts not counted
		is.Equal(wf.ExecutorID, "exec-a") // not taken by the recovering executor
		got, err := s.GetWorkflow(t.Context(), "wf-1")
		is.NoErr(err)                   // get
		is.Equal(norm(got), norm(done)) // the stored row is unchanged
	})

	t.Run("missing workflow is ErrNotFound", func(t *testing.T) {
		is := is.New(t)
		s := newStore(t)
		create(t, s, params("wf-1", 0))
		_, err := s.RecoverWorkflow(t.Context(), store.RecoverParams{
			WorkflowID: "wf-2", ExecutorID: "exec-b", MaxAttempts: -1, Now: at(1),
		})
		is.True(errors.Is(err, store.ErrNotFound)) // unknown ID
	})

	t.Run("hands the workflow from From to Owner", func(t *testing.T) {
		is := is.New(t)
		s := newStore(t)
		register(t, s, "inst-a")
		register(t, s, "inst-b")
		createOwned(t, s, "wf-1", "inst-a", 0)
		stop(t, s, "inst-a")

		wf := adopt(t, s, "wf-1", "inst-a", "inst-b", -1, 5)
		is.Equal(wf.ExecutorID, "exec-inst-b")    // run by the adopting executor
		is.Equal(wf.RecoveryAttempts, 2)          // the recovery is counted
		is.Equal(wf.Status, store.StatusPending)  // still PENDING
		is.Equal(wf.UpdatedAt.UTC(), at(5).UTC()) // updated at Now
		got, err := s.GetWorkflow(t.Context(), "wf-1")
		is.NoErr(err)                 // get
		is.Equal(norm(got), norm(wf)) // recover returns the row as stored
	})

	t.Run("adopts a workflow with no owner from From empty", func(t *testing.T) {
		is := is.New(t)
		s := newStore(t)
		register(t, s, "inst-b")
		create(t, s, params("wf-1", 0))
		wf := adopt(t, s, "wf-1", "", "inst-b", -1, 1)
		is.Equal(wf.RecoveryAttempts, 2) // the recovery is counted
	})

	t.Run("ApplicationVersion admits that version or none", func(t *testing.T) {
		is := is.New(t)
		s := newStore(t)
		register(t, s, "inst-b")
		before := create(t, s, params("wf-v1", 0))
		unpinned := params("wf-none", 0)
		unpinned.ApplicationVersion = ""
		create(t, s, unpinned)
		recoverAs := func(id, version string) store.Workflow {
			wf, err := s.RecoverWorkflow(t.Context(), store.RecoverParams{WorkflowID: id, Owner: "inst-b",
				ExecutorID: "exec-b", ApplicationVersion: version, MaxAttempts: -1, Now: at(1)})
			is.NoErr(err) // recover
			return wf
		}

		wf := recoverAs("wf-v1", "v2")
		is.Equal(norm(wf), norm(before)) // another version's workflow is returned unchanged
		is.Equal(wf.Owner, "")           // and not adopted
		wf = recoverAs("wf-v1", "v1")
		is.Equal(wf.Owner, "inst-b")     // its own version's is adopted
		is.Equal(wf.RecoveryAttempts, 2) // and the recovery counted
		wf = recoverAs("wf-none", "v2")
		is.Equal(wf.Owner, "inst-b") // one of no version is adopted by any
	})

	t.Run("another From changes nothing", func(t *testing.T) {
		for _, from := range []string{"", "inst-c", "inst-b"} {
			t.Run("From "+strconv.Quote(from), func(t *testing.T) {
				is := is.New(t)
				s := newStore(t)
				for _, id := range []string{"inst-a", "inst-b", "inst-c"} {
					register(t, s, id)
				}
				before := createOwned(t, s, "wf-1", "inst-a", 0)

				wf, err := s.RecoverWorkflow(t.Context(), store.RecoverParams{
					WorkflowID: "wf-1", From: from, Owner: "inst-b", ExecutorID: "exec-b", MaxAttempts: -1, Now: at(1),
				})
				is.NoErr(err)                    // a lost compare is no error
				is.Equal(norm(wf), norm(before)) // the row is returned unchanged
				is.Equal(wf.Owner, "inst-a")     // still its owner's
				is.Equal(wf.RecoveryAttempts, 1) // no recovery counted
				got, err := s.GetWorkflow(t.Context(), "wf-1")
				is.NoErr(err)                     // get
				is.Equal(norm(got), norm(before)) // the stored row is unchanged
			})
		}
	})

	t.Run("stops past MaxAttempts, from owner to owner", func(t *testing.T) {
		is := is.New(t)
		s := newStore(t)
		for _, id := range []string{"inst-a", "inst-b", "inst-c"} {
			register(t, s, id)
		}
		createOwned(t, s, "wf-1", "inst-a", 0)
		wf := adopt(t, s, "wf-1", "inst-a", "inst-b", 1, 1)
		is.Equal(wf.RecoveryAttempts, 2)         // one recovery
		is.Equal(wf.Status, store.StatusPending) // within MaxAttempts+1
		wf = adopt(t, s, "wf-1", "inst-b", "inst-c", 1, 2)
		is.Equal(wf.RecoveryAttempts, 3)                             // a second recovery
		is.Equal(wf.Status, store.StatusMaxRecoveryAttemptsExceeded) // 3 > MaxAttempts+1 stops it
		is.Equal(wf.CompletedAt.UTC(), at(2).UTC())                  // completed when stopped

		again, err := s.RecoverWorkflow(t.Context(), store.RecoverParams{
			WorkflowID: "wf-1", From: "inst-c", Owner: "inst-a", ExecutorID: "exec-a", MaxAttempts: -1, Now: at(3),
		})
		is.NoErr(err)                   // recover
		is.Equal(norm(again), norm(wf)) // a stopped workflow is adopted by nobody
	})

	t.Run("negative MaxAttempts is unlimited, from owner to owner", func(t *testing.T) {
		is := is.New(t)
		s := newStore(t)
		owners := []string{"inst-a", "inst-b"}
		for _, id := range owners {
			register(t, s, id)
		}
		createOwned(t, s, "wf-1", "inst-a", 0)
		var wf store.Workflow
		for i := range 10 {
			wf = adopt(t, s, "wf-1", owners[i%2], owners[(i+1)%2], -1, i+1)
		}
		is.Equal(wf.RecoveryAttempts, 11)        // every recovery counted
		is.Equal(wf.Status, store.StatusPending) // never stopped
	})

	t.Run("finished workflow is adopted by nobody", func(t *testing.T) {
		is := is.New(t)
		s := newStore(t)
		register(t, s, "inst-a")
		register(t, s, "inst-b")
		createOwned(t, s, "wf-1", "inst-a", 0)
		finish(t, s, "wf-1", 1)
		done, err := s.GetWorkflow(t.Context(), "wf-1")
		is.NoErr(err) // get
		stop(t, s, "inst-a")

		wf, err := s.RecoverWorkflow(t.Context(), store.RecoverParams{
			WorkflowID: "wf-1", From: "inst-a", Owner: "inst-b", ExecutorID: "exec-b", MaxAttempts: -1, Now: at(2),
		})
		is.NoErr(err)                  // recover
		is.Equal(norm(wf), norm(done)) // not PENDING: returned unchanged
	})

	t.Run("missing workflow is ErrNotFound for a live owner", func(t *testing.T) {
		is := is.New(t)
		s := newStore(t)
		register(t, s, "inst-b")
		_, err := s.RecoverWorkflow(t.Context(), store.RecoverParams{
			WorkflowID: "wf-2", From: "inst-a", Owner: "inst-b", ExecutorID: "exec-b", MaxAttempts: -1, Now: at(1),
		})
		is.True(errors.Is(err, store.ErrNotFound)) // unknown ID
	})
}
