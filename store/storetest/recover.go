package storetest

import (
	"errors"
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
}
