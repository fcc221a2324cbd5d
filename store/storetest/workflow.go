package storetest

import (
	"errors"
	"testing"

	"github.com/matryer/is"

	"github.com/dboslite/dboslite/store"
)

func testCreateWorkflow(t *testing.T, newStore func(t *testing.T) store.Store) {
	t.Run("fields round-trip", func(t *testing.T) {
		is := is.New(t)
		s := newStore(t)
		p := params("child-1", 0)
		p.ParentID = "parent-1"
		want := store.Workflow{
			ID:                 "child-1",
			Name:               "main.Transfer",
			Status:             store.StatusPending,
			Input:              []byte(`{"from":"a","to":"b","amount":100}`),
			ExecutorID:         "exec-a",
			ApplicationVersion: "v1",
			ApplicationName:    "bank",
			ParentID:           "parent-1",
			RecoveryAttempts:   1,
			CreatedAt:          at(0),
			UpdatedAt:          at(0),
		}

		wf, created, err := s.CreateWorkflow(t.Context(), p)
		is.NoErr(err)                  // create
		is.True(created)               // a new ID is created
		is.Equal(norm(wf), norm(want)) // create returns the row as stored
		got, err := s.GetWorkflow(t.Context(), "child-1")
		is.NoErr(err)                     // get
		is.Equal(norm(got), norm(want))   // get returns the row as created
		is.True(got.CompletedAt.IsZero()) // not completed while PENDING
	})

	t.Run("top-level workflow has no parent", func(t *testing.T) {
		is := is.New(t)
		s := newStore(t)
		create(t, s, params("wf-1", 0))
		got, err := s.GetWorkflow(t.Context(), "wf-1")
		is.NoErr(err)               // get
		is.Equal(got.ParentID, "")  // no parent
		is.Equal(got.QueueName, "") // not enqueued
	})

	t.Run("is idempotent by ID", func(t *testing.T) {
		is := is.New(t)
		s := newStore(t)
		first := create(t, s, params("wf-1", 0))
		again := store.WorkflowCreateParams{
			ID:                 "wf-1",
			Name:               "main.Other",
			Input:              []byte(`"other input"`),
			ExecutorID:         "exec-b",
			ApplicationVersion: "v2",
			ApplicationName:    "other-app",
			ParentID:           "parent-9",
			Now:                at(30),
		}

		wf, created, err := s.CreateWorkflow(t.Context(), again)
		is.NoErr(err)                   // second create is not an error
		is.True(!created)               // second create does not create
		is.Equal(norm(wf), norm(first)) // second create returns the first row
		got, err := s.GetWorkflow(t.Context(), "wf-1")
		is.NoErr(err)                     // get
		is.Equal(norm(got), norm(first))  // the first row is untouched
		is.Equal(got.RecoveryAttempts, 1) // a second create is not a recovery
	})

	t.Run("nil input round-trips", func(t *testing.T) {
		is := is.New(t)
		s := newStore(t)
		p := params("wf-1", 0)
		p.Input = nil
		create(t, s, p)
		got, err := s.GetWorkflow(t.Context(), "wf-1")
		is.NoErr(err)            // get
		is.Equal(got.Input, nil) // no input stays nil
	})
}

func testGetWorkflow(t *testing.T, newStore func(t *testing.T) store.Store) {
	t.Run("unknown ID is ErrNotFound", func(t *testing.T) {
		is := is.New(t)
		s := newStore(t)
		create(t, s, params("wf-1", 0))
		_, err := s.GetWorkflow(t.Context(), "wf-2")
		is.True(errors.Is(err, store.ErrNotFound)) // unknown ID
	})

	t.Run("empty store is ErrNotFound", func(t *testing.T) {
		is := is.New(t)
		s := newStore(t)
		_, err := s.GetWorkflow(t.Context(), "wf-1")
		is.True(errors.Is(err, store.ErrNotFound)) // nothing stored yet
	})
}

func testSetOutcome(t *testing.T, newStore func(t *testing.T) store.Store) {
	t.Run("sets SUCCESS with output", func(t *testing.T) {
		is := is.New(t)
		s := newStore(t)
		create(t, s, params("wf-1", 0))

		ok, err := s.SetOutcome(t.Context(), store.OutcomeParams{
			WorkflowID: "wf-1", Status: store.StatusSuccess, Output: []byte(`"paid"`), Now: at(5),
		})
		is.NoErr(err) // set outcome
		is.True(ok)   // a PENDING workflow takes its outcome
		got, err := s.GetWorkflow(t.Context(), "wf-1")
		is.NoErr(err)                                            // get
		is.Equal(got.Status, store.StatusSuccess)                // completed
		is.Equal(string(got.Output), `"paid"`)                   // output stored
		is.Equal(got.Error, nil)                                 // no error on SUCCESS
		is.Equal(got.CompletedAt.UTC(), at(5).UTC())             // completed at Now
		is.Equal(string(got.Input), string(params("", 0).Input)) // input kept
	})

	t.Run("sets ERROR with error", func(t *testing.T) {
		is := is.New(t)
		s := newStore(t)
		create(t, s, params("wf-1", 0))

		ok, err := s.SetOutcome(t.Context(), store.OutcomeParams{
			WorkflowID: "wf-1", Status: store.StatusError, Error: []byte(`{"msg":"insufficient funds"}`), Now: at(5),
		})
		is.NoErr(err) // set outcome
		is.True(ok)   // a PENDING workflow takes its outcome
		got, err := s.GetWorkflow(t.Context(), "wf-1")
		is.NoErr(err)                                               // get
		is.Equal(got.Status, store.StatusError)                     // failed
		is.Equal(string(got.Error), `{"msg":"insufficient funds"}`) // error stored
		is.Equal(got.Output, nil)                                   // no output on ERROR
		is.Equal(got.CompletedAt.UTC(), at(5).UTC())                // completed at Now
	})

	t.Run("second outcome changes nothing", func(t *testing.T) {
		is := is.New(t)
		s := newStore(t)
		create(t, s, params("wf-1", 0))
		finish(t, s, "wf-1", 5)
		first, err := s.GetWorkflow(t.Context(), "wf-1")
		is.NoErr(err) // get

		ok, err := s.SetOutcome(t.Context(), store.OutcomeParams{
			WorkflowID: "wf-1", Status: store.StatusError, Error: []byte(`"late"`), Now: at(9),
		})
		is.NoErr(err) // a late outcome is not an error
		is.True(!ok)  // a finished workflow takes no second outcome
		got, err := s.GetWorkflow(t.Context(), "wf-1")
		is.NoErr(err)                    // get
		is.Equal(norm(got), norm(first)) // the first outcome stands
	})

	t.Run("terminal status is never overwritten", func(t *testing.T) {
		is := is.New(t)
		s := newStore(t)
		create(t, s, params("wf-1", 0))
		stopped, err := s.RecoverWorkflow(t.Context(), store.RecoverParams{
			WorkflowID: "wf-1", ExecutorID: "exec-b", MaxAttempts: 0, Now: at(3),
		})
		is.NoErr(err)                                                     // recover
		is.Equal(stopped.Status, store.StatusMaxRecoveryAttemptsExceeded) // no recovery allowed

		ok, err := s.SetOutcome(t.Context(), store.OutcomeParams{
			WorkflowID: "wf-1", Status: store.StatusSuccess, Output: []byte(`"late"`), Now: at(9),
		})
		is.NoErr(err) // a late outcome is not an error
		is.True(!ok)  // a terminal workflow takes no outcome
		got, err := s.GetWorkflow(t.Context(), "wf-1")
		is.NoErr(err)                      // get
		is.Equal(norm(got), norm(stopped)) // the terminal row is untouched
	})

	t.Run("missing workflow is ErrNotFound", func(t *testing.T) {
		is := is.New(t)
		s := newStore(t)
		create(t, s, params("wf-1", 0))
		ok, err := s.SetOutcome(t.Context(), store.OutcomeParams{
			WorkflowID: "wf-2", Status: store.StatusSuccess, Output: []byte(`1`), Now: at(5),
		})
		is.True(errors.Is(err, store.ErrNotFound)) // unknown ID
		is.True(!ok)                               // nothing set
	})

	t.Run("status that is not an outcome is an error", func(t *testing.T) {
		for _, status := range []store.Status{store.StatusPending, store.StatusEnqueued, ""} {
			t.Run(string(status), func(t *testing.T) {
				is := is.New(t)
				s := newStore(t)
				before := create(t, s, params("wf-1", 0))

				ok, err := s.SetOutcome(t.Context(), store.OutcomeParams{
					WorkflowID: "wf-1", Status: status, Output: []byte(`1`), Now: at(5),
				})
				is.True(err != nil) // only SUCCESS and ERROR are outcomes
				is.True(!ok)        // nothing set
				got, err := s.GetWorkflow(t.Context(), "wf-1")
				is.NoErr(err)                     // get
				is.Equal(norm(got), norm(before)) // the workflow is untouched
			})
		}
	})
}

func testCancelReason(t *testing.T, newStore func(t *testing.T) store.Store) {
	t.Run("a reason is kept as the Error", func(t *testing.T) {
		is := is.New(t)
		s := newStore(t)
		create(t, s, params("wf-1", 0))
		enqueue(t, s, enqueueParams("wf-2", "q", 1))
		for _, id := range []string{"wf-1", "wf-2"} {
			wf, err := s.CancelWorkflow(t.Context(), store.CancelParams{WorkflowID: id, Reason: []byte(`"deadline"`), Now: at(2)})
			is.NoErr(err)                              // cancel
			is.Equal(wf.Status, store.StatusCancelled) // cancelled
			is.Equal(string(wf.Error), `"deadline"`)   // with its reason
			got, err := s.GetWorkflow(t.Context(), id)
			is.NoErr(err)                 // get
			is.Equal(norm(got), norm(wf)) // cancel returns the row as stored
		}
	})

	t.Run("without a reason the Error stays empty", func(t *testing.T) {
		is := is.New(t)
		s := newStore(t)
		create(t, s, params("wf-1", 0))
		wf, err := s.CancelWorkflow(t.Context(), store.CancelParams{WorkflowID: "wf-1", Now: at(1)})
		is.NoErr(err)                              // cancel
		is.Equal(wf.Status, store.StatusCancelled) // cancelled
		is.Equal(len(wf.Error), 0)                 // with no error
		got, err := s.GetWorkflow(t.Context(), "wf-1")
		is.NoErr(err)               // get
		is.Equal(len(got.Error), 0) // as stored
	})

	t.Run("a finished workflow keeps its outcome", func(t *testing.T) {
		is := is.New(t)
		s := newStore(t)
		create(t, s, params("wf-1", 0))
		finish(t, s, "wf-1", 1)
		done, err := s.GetWorkflow(t.Context(), "wf-1")
		is.NoErr(err) // get
		wf, err := s.CancelWorkflow(t.Context(), store.CancelParams{WorkflowID: "wf-1", Reason: []byte(`"deadline"`), Now: at(2)})
		is.NoErr(err)                  // cancel
		is.Equal(norm(wf), norm(done)) // neither status nor error changes
	})
}
