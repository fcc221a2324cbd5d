package durabletest

import (
	"context"
	"testing"
	"time"

	"github.com/matryer/is"

	"github.com/dboslite/dboslite/durable"
	"github.com/dboslite/dboslite/store"
)

// A crash point past the last step records no outcome: the workflow
// stays PENDING with the steps it ran.
func TestCrashPastEndRecordsNoOutcome(t *testing.T) {
	is := is.New(t)
	setup := func(e *durable.Engine) (*durable.Workflow[int, int], error) {
		return durable.Register(e, "double", func(ctx context.Context, in int) (int, error) {
			return durable.Step(ctx, "double", func(context.Context) (int, error) { return 2 * in, nil })
		})
	}
	v := NewEnv(t)
	cs := newCrashStore(v.open(), "w", 2)
	crashUntil(t, v, cs, setup, 21, options{id: "w", timeout: time.Minute})
	is.True(cs.diedPastEnd()) // the crash came at the outcome

	s := v.open()
	wf, err := s.GetWorkflow(context.Background(), "w")
	is.NoErr(err)
	is.Equal(wf.Status, store.StatusPending) // no outcome recorded
	is.Equal(len(wf.Output), 0)
	steps, err := s.Steps(context.Background(), "w")
	is.NoErr(err)
	is.Equal(len(steps), 1) // the step before stays recorded
}

// A crashed store refuses reads too: the dead process does nothing more,
// not even replay its workflow.
func TestCrashedStoreRefusesEverything(t *testing.T) {
	is := is.New(t)
	v := NewEnv(t)
	cs := newCrashStore(v.open(), "w", 1)
	ctx := context.Background()
	err := cs.RecordStep(ctx, store.StepParams{Step: store.Step{WorkflowID: "w", StepID: 1, Name: "a"}})
	is.Equal(err, errCrash) // step 1 is the crash point
	_, err = cs.GetWorkflow(ctx, "w")
	is.Equal(err, errCrash) // reads are refused
	_, err = cs.Steps(ctx, "w")
	is.Equal(err, errCrash)
	is.Equal(cs.counted()[1].Runs, 1) // the crashed step counts as run
}
