package storetest

import (
	"context"
	"errors"
	"testing"

	"github.com/matryer/is"

	"github.com/dboslite/dboslite/store"
)

// testReadOnly opens a read-only store on a database another store
// writes: it reads what the other wrote, and every write fails with
// store.ErrReadOnly and changes nothing.
func testReadOnly(t *testing.T, newStore func(t *testing.T) store.Store, readOnly func(t *testing.T, s store.Store) store.Store) {
	is := is.New(t)
	ctx := t.Context()
	s := newStore(t)
	register(t, s, "inst")
	owning(t, s, params("wf", 0))
	enqueue(t, s, enqueueParams("q-1", "mail", 1))
	create(t, s, params("done", 2))
	finish(t, s, "done", 3)
	before := remaining(t, s)

	ro := readOnly(t, s)
	wfs, err := ro.ListWorkflows(ctx, store.ListParams{NoPayloads: true})
	is.NoErr(err)              // list
	is.Equal(ids(wfs), before) // what the other store wrote
	wf, err := ro.GetWorkflow(ctx, "wf")
	is.NoErr(err)                                     // get
	is.Equal(wf.ID, "wf")                             // the workflow
	is.Equal(len(steps(t, ro, "wf")), 3)              // its steps
	is.Equal(events(t, ro, "wf", "k"), []string{"1"}) // its events
	out, _ := stream(t, ro, "wf", "out")
	is.Equal(len(out), 1) // its stream
	depths, err := ro.QueueDepths(ctx)
	is.NoErr(err)                                                      // queue depths
	is.Equal(depths, []store.QueueDepth{{Queue: "mail", Enqueued: 1}}) // the queue
	insts, err := ro.Instances(ctx)
	is.NoErr(err)           // instances
	is.Equal(len(insts), 1) // the instance
	_, err = ro.Orphans(ctx, store.OrphanParams{})
	is.NoErr(err) // orphans

	st := step("wf", 9, "s", `"x"`)
	writes := map[string]func(context.Context) error{
		"CreateWorkflow": func(ctx context.Context) error { _, _, err := ro.CreateWorkflow(ctx, params("new", 5)); return err },
		"RecordStep":     func(ctx context.Context) error { return ro.RecordStep(ctx, store.StepParams{Step: st}) },
		"SetOutcome": func(ctx context.Context) error {
			_, err := ro.SetOutcome(ctx, store.OutcomeParams{WorkflowID: "wf", Status: store.StatusSuccess})
			return err
		},
		"RecoverWorkflow": func(ctx context.Context) error {
			_, err := ro.RecoverWorkflow(ctx, store.RecoverParams{WorkflowID: "wf", MaxAttempts: -1})
			return err
		},
		"CancelWorkflow": func(ctx context.Context) error {
			_, err := ro.CancelWorkflow(ctx, store.CancelParams{WorkflowID: "wf"})
			return err
		},
		"Send": func(ctx context.Context) error {
			return ro.Send(ctx, store.SendParams{DestinationID: "wf", Topic: "t", Payload: []byte("1")})
		},
		"ConsumeMessage": func(ctx context.Context) error {
			_, _, err := ro.ConsumeMessage(ctx, store.ConsumeParams{WorkflowID: "wf", Topic: "t", Step: st})
			return err
		},
		"SetEvent": func(ctx context.Context) error {
			return ro.SetEvent(ctx, store.EventParams{WorkflowID: "wf", Key: "k", Value: []byte("2")})
		},
		"WriteStream": func(ctx context.Context) error {
			return ro.WriteStream(ctx, store.StreamWrite{WorkflowID: "wf", Key: "out", Value: []byte("2")})
		},
		"Enqueue": func(ctx context.Context) error {
			_, _, err := ro.Enqueue(ctx, enqueueParams("q-2", "mail", 5))
			return err
		},
		"Claim": func(ctx context.Context) error { _, err := ro.Claim(ctx, claimParams("mail", 1, 5)); return err },
		"Requeue": func(ctx context.Context) error {
			_, err := ro.Requeue(ctx, store.RequeueParams{WorkflowID: "q-1", MaxAttempts: -1})
			return err
		},
		"ResumeWorkflow": func(ctx context.Context) error {
			_, err := ro.ResumeWorkflow(ctx, store.ResumeParams{WorkflowID: "done"})
			return err
		},
		"ForkWorkflow": func(ctx context.Context) error {
			_, err := ro.ForkWorkflow(ctx, store.ForkParams{SourceID: "wf", NewID: "f", StartStep: 2})
			return err
		},
		"DeleteWorkflows": func(ctx context.Context) error {
			_, err := ro.DeleteWorkflows(ctx, store.DeleteParams{IDs: []string{"done"}})
			return err
		},
		"CollectGarbage": func(ctx context.Context) error {
			_, err := ro.CollectGarbage(ctx, store.GCParams{KeepNewest: 1, Batch: 10})
			return err
		},
		"RegisterInstance": func(ctx context.Context) error {
			_, err := ro.RegisterInstance(ctx, instanceParams("other"))
			return err
		},
		"Heartbeat":       func(ctx context.Context) error { return ro.Heartbeat(ctx, "inst") },
		"ExpireInstances": func(ctx context.Context) error { _, err := ro.ExpireInstances(ctx, 0); return err },
		"StopInstance":    func(ctx context.Context) error { return ro.StopInstance(ctx, "inst") },
	}
	for name, write := range writes {
		t.Run(name, func(t *testing.T) {
			is := is.New(t)
			err := write(t.Context())
			is.True(errors.Is(err, store.ErrReadOnly)) // refused: read-only
		})
	}
	is.Equal(remaining(t, s), before)                // nothing changed
	is.Equal(len(steps(t, s, "wf")), 3)              // no step recorded
	is.Equal(events(t, s, "wf", "k"), []string{"1"}) // no event set
	is.Equal(liveIDs(t, s), []string{"inst"})        // no instance changed
	is.NoErr(ro.Close())                             // close
	is.NoErr(ro.Close())                             // twice
}

// testOpenMissing opens a database that does not exist with
// OpenOptions.Existing and ReadOnly: both are store.ErrNotFound.
func testOpenMissing(t *testing.T, missing func(t *testing.T) string) {
	for _, o := range []store.OpenOptions{{Existing: true}, {ReadOnly: true}, {Existing: true, ReadOnly: true}} {
		is := is.New(t)
		s, err := store.OpenWith(t.Context(), missing(t), o)
		if err == nil {
			s.Close()
		}
		is.True(errors.Is(err, store.ErrNotFound)) // a database that does not exist is not found
		is.True(s == nil)                          // and no store
	}
}
