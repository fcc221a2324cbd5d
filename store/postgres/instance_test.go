package postgres_test

import (
	"errors"
	"testing"
	"time"

	"github.com/matryer/is"

	"github.com/dboslite/dboslite/store"
)

// storetest has no case for instances and ownership yet; these check the
// backend against store/sqlite's behaviour.

func TestInstances(t *testing.T) {
	is := is.New(t)
	s := setup(t)
	ctx := t.Context()
	for _, id := range []string{"a", "b"} {
		inst, err := s.RegisterInstance(ctx, store.InstanceParams{ID: id, ExecutorID: "e", Host: "h", PID: 7})
		is.NoErr(err)                              // register
		is.True(!inst.HeartbeatAt.IsZero())        // with a first heartbeat
		is.Equal(inst.StartedAt, inst.HeartbeatAt) // at its start
		time.Sleep(2 * time.Millisecond)
	}
	live, err := s.Instances(ctx)
	is.NoErr(err)
	is.Equal(len(live), 2)    // both live
	is.Equal(live[0].ID, "a") // oldest first
	is.NoErr(s.Heartbeat(ctx, "a"))

	expired, err := s.ExpireInstances(ctx, time.Hour)
	is.NoErr(err)
	is.Equal(len(expired), 0) // none past an hour's lease
	time.Sleep(5 * time.Millisecond)
	expired, err = s.ExpireInstances(ctx, 0)
	is.NoErr(err)
	is.Equal(len(expired), 2)                                        // both past a lease of nothing
	is.True(errors.Is(s.Heartbeat(ctx, "a"), store.ErrInstanceLost)) // a later heartbeat is refused
	is.True(errors.Is(s.Heartbeat(ctx, "x"), store.ErrInstanceLost)) // as is one of an unknown instance
	live, err = s.Instances(ctx)
	is.NoErr(err)
	is.Equal(len(live), 0) // the dead are not listed
}

func TestOwnership(t *testing.T) {
	is := is.New(t)
	s := setup(t)
	ctx := t.Context()
	for _, id := range []string{"a", "b"} {
		_, err := s.RegisterInstance(ctx, store.InstanceParams{ID: id, ExecutorID: "e"})
		is.NoErr(err) // register
	}
	_, _, err := s.CreateWorkflow(ctx, store.WorkflowCreateParams{ID: "wf", Name: "f", Owner: "a"})
	is.NoErr(err) // a owns wf
	step := store.Step{WorkflowID: "wf", StepID: 1, Name: "s", Output: []byte("1")}

	err = s.RecordStep(ctx, store.StepParams{Owner: "b", Step: step})
	is.True(errors.Is(err, store.ErrNotOwner)) // another instance may not record a step
	_, err = s.SetOutcome(ctx, store.OutcomeParams{WorkflowID: "wf", Status: store.StatusSuccess, Owner: "b"})
	is.True(errors.Is(err, store.ErrNotOwner))                            // nor set the outcome
	is.NoErr(s.RecordStep(ctx, store.StepParams{Owner: "a", Step: step})) // the owner may

	is.NoErr(s.StopInstance(ctx, "a"))
	step.StepID = 2
	err = s.RecordStep(ctx, store.StepParams{Owner: "a", Step: step})
	is.True(errors.Is(err, store.ErrNotOwner)) // a dead owner may not either
	_, _, err = s.CreateWorkflow(ctx, store.WorkflowCreateParams{ID: "wf-2", Name: "f", Owner: "a"})
	is.True(errors.Is(err, store.ErrInstanceLost)) // a dead instance is given no workflow
	_, _, err = s.Enqueue(ctx, store.EnqueueParams{Queue: "q", WorkflowCreateParams: store.WorkflowCreateParams{ID: "q-1", Name: "f"}})
	is.NoErr(err)
	_, err = s.Claim(ctx, store.ClaimParams{Queue: "q", Names: []string{"f"}, Owner: "a", Max: 1})
	is.True(errors.Is(err, store.ErrInstanceLost)) // by a claim neither
	_, err = s.RecoverWorkflow(ctx, store.RecoverParams{WorkflowID: "wf", From: "a", Owner: "a", MaxAttempts: -1})
	is.True(errors.Is(err, store.ErrInstanceLost)) // nor by an adoption

	orphans, err := s.Orphans(ctx, store.OrphanParams{})
	is.NoErr(err)
	is.Equal(len(orphans), 1)     // the dead instance's workflow
	is.Equal(orphans[0].ID, "wf") // is an orphan
	wf, err := s.RecoverWorkflow(ctx, store.RecoverParams{WorkflowID: "wf", From: "a", Owner: "b", MaxAttempts: -1})
	is.NoErr(err)
	is.Equal(wf.Owner, "b")          // adopted
	is.Equal(wf.RecoveryAttempts, 2) // and counted
	orphans, err = s.Orphans(ctx, store.OrphanParams{})
	is.NoErr(err)
	is.Equal(len(orphans), 0) // none left, and the dead instance, owning nothing, is forgotten
	_, err = s.RecoverWorkflow(ctx, store.RecoverParams{WorkflowID: "wf", From: "a", Owner: "a", MaxAttempts: -1})
	is.True(errors.Is(err, store.ErrInstanceLost)) // still dead once forgotten
	step.StepID = 2
	is.NoErr(s.RecordStep(ctx, store.StepParams{Owner: "b", Step: step})) // the new owner records
	ok, err := s.SetOutcome(ctx, store.OutcomeParams{WorkflowID: "wf", Status: store.StatusSuccess, Owner: "b"})
	is.NoErr(err)
	is.True(ok) // and ends it
}
