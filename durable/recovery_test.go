package durable_test

import (
	"context"
	"errors"
	"fmt"
	"strings"
	"testing"

	"github.com/matryer/is"

	"github.com/dboslite/dboslite/durable"
	"github.com/dboslite/dboslite/store"
)

// fiveSteps is a workflow of five steps counting their real runs in calls.
func fiveSteps(calls *counter) func(context.Context, string) (string, error) {
	return func(ctx context.Context, in string) (string, error) {
		out := in
		for i := 1; i <= 5; i++ {
			name := fmt.Sprintf("s%d", i)
			v, err := durable.Step(ctx, name, func(ctx context.Context) (string, error) {
				calls.inc(name)
				return name, nil
			})
			if err != nil {
				return "", err
			}
			out += "+" + v
		}
		return out, nil
	}
}

func TestRecoveryResumesAtTheFirstUnrecordedStep(t *testing.T) {
	is := is.New(t)
	v := setup(t)
	var calls counter

	// The first process records the workflow and two steps, then dies.
	e1 := v.crashing(3)
	wf1 := register(t, e1, "five", fiveSteps(&calls))
	launch(t, e1)
	err := v.untilCrash(e1, func() error { _, err := wf1.Run(context.Background(), "x", durable.WithID("w")); return err })
	is.True(errors.Is(err, durable.ErrShutdown))          // the crash interrupted it
	is.Equal(v.workflow("w").Status, store.StatusPending) // left PENDING
	is.Equal(len(v.steps("w")), 2)                        // with two steps

	// The next process recovers it at Launch.
	e2 := v.engine()
	wf2 := register(t, e2, "five", fiveSteps(&calls))
	launch(t, e2)
	h, err := wf2.Retrieve(context.Background(), "w")
	is.NoErr(err)
	got, err := h.Result(context.Background())
	is.NoErr(err)
	is.Equal(got, "x+s1+s2+s3+s4+s5")
	is.Equal(calls.get("s1"), 1) // recorded steps did not run again
	is.Equal(calls.get("s2"), 1)
	is.Equal(calls.get("s3"), 2) // the interrupted step ran again
	is.Equal(calls.get("s5"), 1)
	wf := v.workflow("w")
	is.Equal(wf.Status, store.StatusSuccess)
	is.Equal(wf.RecoveryAttempts, 2) // the first run and one recovery
	is.Equal(len(v.steps("w")), 5)
}

func TestRecoveryAdoptsAnyExecutorButOnlyItsVersion(t *testing.T) {
	is := is.New(t)
	v := setup(t)
	var calls counter
	// Three workflows left PENDING by processes that died before their
	// first step: one of each executor and version.
	for _, c := range []struct{ id, executor, version string }{
		{"mine", "local", "v1"}, {"other-exec", "worker-2", "v1"}, {"old-version", "local", "v0"},
	} {
		v.orphan(c.id, "five", `"x"`, func(p *store.WorkflowCreateParams) { p.ExecutorID, p.ApplicationVersion = c.executor, c.version })
	}
	e := v.engine()
	wf := register(t, e, "five", fiveSteps(&calls))
	launch(t, e)
	_, err := wf.Run(context.Background(), "x", durable.WithID("mine"))
	is.NoErr(err)
	is.Equal(v.workflow("mine").Status, store.StatusSuccess)
	h, err := durable.Retrieve[string](context.Background(), e, "other-exec")
	is.NoErr(err)
	_, err = h.Result(context.Background())
	is.NoErr(err) // a dead instance's workflow is adopted whatever its executor ID
	is.Equal(v.workflow("other-exec").Status, store.StatusSuccess)
	is.Equal(v.workflow("old-version").Status, store.StatusPending) // another version's
	is.Equal(v.workflow("old-version").RecoveryAttempts, 1)         // untouched
}

func TestUnregisteredWorkflowIsLeftPendingAndLogged(t *testing.T) {
	is := is.New(t)
	v := setup(t)
	var calls counter
	e1 := v.crashing(1)
	wf := register(t, e1, "renamed-later", fiveSteps(&calls))
	launch(t, e1)
	err := v.untilCrash(e1, func() error { _, err := wf.Run(context.Background(), "x", durable.WithID("orphan")); return err })
	is.True(errors.Is(err, durable.ErrShutdown))

	e2 := v.engine()
	register(t, e2, "five", fiveSteps(&calls))
	launch(t, e2)
	is.NoErr(e2.Shutdown(context.Background()))
	orphan := v.workflow("orphan")
	is.Equal(orphan.Status, store.StatusPending)        // never lost
	is.Equal(orphan.RecoveryAttempts, 1)                // and not counted as recovered
	is.True(strings.Contains(v.log.String(), "orphan")) // reported in the log
	is.True(strings.Contains(v.log.String(), "not registered"))
}

func TestMaxRecoveryAttempts(t *testing.T) {
	is := is.New(t)
	v := setup(t)
	var runs counter
	// hangs holds its workflow until shutdown, as a workflow that crashes
	// the process every time would.
	hangs := func(ctx context.Context, _ int) (int, error) {
		runs.inc("hang")
		<-ctx.Done()
		return 0, ctx.Err()
	}
	started := false
	for i := range 4 {
		e := v.engine()
		wf := register(t, e, "hangs", hangs, durable.WithMaxRecoveryAttempts(2))
		launch(t, e)
		if !started {
			_, err := wf.Start(context.Background(), 0, durable.WithID("dlq"))
			is.NoErr(err)
			started = true
		}
		is.NoErr(e.Shutdown(context.Background()))
		is.Equal(v.workflow("dlq").RecoveryAttempts, min(i+1, 3)+boolInt(i == 3)) // one per run
	}
	wf := v.workflow("dlq")
	is.Equal(wf.Status, store.StatusMaxRecoveryAttemptsExceeded) // after the first run and 2 recoveries
	is.Equal(runs.get("hang"), 3)                                // it did not run a fourth time

	e := v.engine()
	wfn := register(t, e, "hangs", hangs, durable.WithMaxRecoveryAttempts(2))
	launch(t, e)
	h, err := wfn.Retrieve(context.Background(), "dlq")
	is.NoErr(err)
	_, err = h.Result(context.Background())
	is.True(errors.Is(err, durable.ErrMaxRecoveryAttemptsExceeded)) // typed result
	is.Equal(runs.get("hang"), 3)
}

func boolInt(b bool) int {
	if b {
		return 1
	}
	return 0
}

var stepName = "first-name"

func TestDeterminismErrorNamesBothSteps(t *testing.T) {
	is := is.New(t)
	v := setup(t)
	changing := func(ctx context.Context, _ int) (int, error) {
		if _, err := durable.Step(ctx, stepName, func(ctx context.Context) (int, error) { return 1, nil }); err != nil {
			return 0, err
		}
		return durable.Step(ctx, "second", func(ctx context.Context) (int, error) { return 2, nil })
	}
	e1 := v.crashing(2)
	wf := register(t, e1, "changes", changing)
	launch(t, e1)
	err := v.untilCrash(e1, func() error { _, err := wf.Run(context.Background(), 0, durable.WithID("d")); return err })
	is.True(errors.Is(err, durable.ErrShutdown))

	stepName = "renamed" // the code changed between runs
	defer func() { stepName = "first-name" }()
	e2 := v.engine()
	wf2 := register(t, e2, "changes", changing)
	launch(t, e2)
	h, err := wf2.Retrieve(context.Background(), "d")
	is.NoErr(err)
	_, err = h.Result(context.Background())
	var de *durable.DeterminismError
	is.True(errors.As(err, &de)) // typed, however soon after the run it is asked
	is.Equal(err.Error(), (&durable.DeterminismError{WorkflowID: "d", StepID: 1, Recorded: "first-name", Called: "renamed"}).Error())
	is.Equal(v.workflow("d").Status, store.StatusError) // the workflow fails, visibly
}

func TestASecondProcessOfTheSameExecutorDoesNotRecoverTheFirstsWorkflows(t *testing.T) {
	is := is.New(t)
	v := setup(t)
	ctx := context.Background()
	var calls counter
	inStep := make(chan struct{}, 4)
	blocking := func(ctx context.Context, _ int) (int, error) {
		return durable.Step(ctx, "work", func(ctx context.Context) (int, error) {
			calls.inc("work")
			if calls.get("work") == 1 {
				inStep <- struct{}{}
				<-ctx.Done() // runs until its process shuts down
				return 0, ctx.Err()
			}
			return 7, nil
		})
	}
	// Two runs of one program, both with the default executor ID.
	a := v.engine()
	wfA := register(t, a, "blocking", blocking)
	launch(t, a)
	_, err := wfA.Start(ctx, 0, durable.WithID("busy"))
	is.NoErr(err)
	<-inStep

	b := v.engine()
	register(t, b, "blocking", blocking)
	launch(t, b)
	is.Equal(v.workflow("busy").RecoveryAttempts, 1) // b did not take it
	is.NoErr(b.Shutdown(ctx))
	is.Equal(calls.get("work"), 1) // it ran once, in a

	is.NoErr(a.Shutdown(ctx)) // a stops; the workflow stays PENDING
	c := v.engine()
	wfC := register(t, c, "blocking", blocking)
	launch(t, c) // the executor is free: c recovers it
	h, err := wfC.Retrieve(ctx, "busy")
	is.NoErr(err)
	got, err := h.Result(ctx)
	is.NoErr(err)
	is.Equal(got, 7)
	is.Equal(v.workflow("busy").RecoveryAttempts, 2)
}
