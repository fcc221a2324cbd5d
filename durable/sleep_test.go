package durable_test

import (
	"context"
	"errors"
	"runtime"
	"testing"
	"time"

	"github.com/matryer/is"

	"github.com/dboslite/dboslite/durable"
	"github.com/dboslite/dboslite/store"
)

// napper records a step, sleeps d, and records another.
func napper(calls *counter) func(context.Context, time.Duration) (string, error) {
	return func(ctx context.Context, d time.Duration) (string, error) {
		calls.inc("fn")
		if _, err := durable.Step(ctx, "before", func(ctx context.Context) (int, error) { calls.inc("before"); return 0, nil }); err != nil {
			return "", err
		}
		if err := durable.Sleep(ctx, d); err != nil {
			return "", err
		}
		return durable.Step(ctx, "after", func(ctx context.Context) (string, error) { calls.inc("after"); return "rested", nil })
	}
}

func TestSleepSleepsOnlyWhatIsLeftAfterARestart(t *testing.T) {
	is := is.New(t)
	v := setup(t)
	ctx := context.Background()
	var calls counter
	e1 := v.engine()
	wf := register(t, e1, "nap", napper(&calls))
	launch(t, e1)
	_, err := wf.Start(ctx, time.Hour, durable.WithID("nap"))
	is.NoErr(err)
	v.waitSteps("nap", 2)
	is.NoErr(e1.Shutdown(ctx)) // the sleeper stays PENDING
	is.Equal(v.workflow("nap").Status, store.StatusPending)
	steps := v.steps("nap")
	is.Equal(len(steps), 2)
	is.Equal(steps[1].Name, "durable.sleep") // the wake-up time is recorded before sleeping
	wake := steps[1].Output

	// The next process starts 59m59.9s later: a tenth of a second is left.
	later := func() time.Time { return time.Now().Add(time.Hour - 100*time.Millisecond) }
	e2 := v.engine(func(c *durable.Config) { c.Now = later })
	wf2 := register(t, e2, "nap", napper(&calls))
	start := time.Now()
	launch(t, e2)
	h, err := wf2.Retrieve(ctx, "nap")
	is.NoErr(err)
	got, err := h.Result(ctx)
	is.NoErr(err)
	is.Equal(got, "rested")
	is.True(time.Since(start) < 10*time.Second)              // not another hour
	is.Equal(string(v.steps("nap")[1].Output), string(wake)) // the same wake-up time
	is.Equal(calls.get("before"), 1)                         // the step before ran once
	is.Equal(calls.get("after"), 1)
}

func TestLongSleepsHoldNoGoroutine(t *testing.T) {
	is := is.New(t)
	v := setup(t)
	ctx := context.Background()
	var calls counter
	e := v.engine(func(c *durable.Config) { c.SuspendSleepsOver = 50 * time.Millisecond })
	wf := register(t, e, "nap", napper(&calls))
	launch(t, e)

	// A sleep past the threshold suspends, then replays when due.
	got, err := wf.Run(ctx, 150*time.Millisecond, durable.WithID("short"))
	is.NoErr(err)
	is.Equal(got, "rested")
	is.Equal(calls.get("fn"), 2)     // the function ran again after the sleep
	is.Equal(calls.get("before"), 1) // but its recorded step did not

	// 200 sleepers of an hour hold no goroutine each.
	runtime.GC()
	before := runtime.NumGoroutine()
	for range 200 {
		_, err := wf.Start(ctx, time.Hour)
		is.NoErr(err)
	}
	// Wait for the sleepers' goroutines to unwind (or for 10 s, and fail).
	after := runtime.NumGoroutine()
	for deadline := time.Now().Add(10 * time.Second); after-before >= 20 && time.Now().Before(deadline); {
		time.Sleep(time.Millisecond)
		after = runtime.NumGoroutine()
	}
	t.Logf("goroutines: %d before, %d with 200 sleepers", before, after)
	is.True(after-before < 20) // suspended, not parked on a timer each
	is.NoErr(e.Shutdown(ctx))
	list, err := v.open().ListWorkflows(ctx, store.ListParams{Statuses: []store.Status{store.StatusPending}})
	is.NoErr(err)
	is.Equal(len(list), 200) // all still PENDING, to resume at the next Launch
}

func TestTimeouts(t *testing.T) {
	v := setup(t)
	ctx := context.Background()
	e := v.engine()
	sawDeadline := make(chan bool, 10)
	release := make(chan struct{})
	released := false
	t.Cleanup(func() {
		if !released {
			close(release) // let the detached workflow end, so shutdown can
		}
	})
	var child, detached *durable.Workflow[int, int]
	blocks := func(ctx context.Context, _ int) (int, error) {
		return durable.Step(ctx, "block", func(ctx context.Context) (int, error) {
			_, ok := ctx.Deadline()
			sawDeadline <- ok
			<-ctx.Done()
			return 0, ctx.Err()
		})
	}
	child = register(t, e, "child", blocks)
	detached = register(t, e, "detached", func(ctx context.Context, _ int) (int, error) {
		<-release
		return 7, nil
	})
	parent := register(t, e, "parent", func(ctx context.Context, _ int) (int, error) {
		if _, err := detached.Start(ctx, 0, durable.Detached(), durable.WithID("det")); err != nil {
			return 0, err
		}
		h, err := child.Start(ctx, 0)
		if err != nil {
			return 0, err
		}
		return h.Result(ctx)
	})
	launch(t, e)

	t.Run("a workflow is cancelled at its deadline", func(t *testing.T) {
		is := is.New(t)
		h, err := child.Start(ctx, 0, durable.WithTimeout(500*time.Millisecond), durable.WithID("t1"))
		is.NoErr(err)
		result := make(chan error, 1)
		go func() { _, err := h.Result(ctx); result <- err }()
		select {
		case ok := <-sawDeadline:
			is.True(ok) // the step's context carries the deadline
			err = <-result
		case err = <-result:
			t.Fatal("the deadline passed before the step started")
		}
		is.True(errors.Is(err, durable.ErrWorkflowCancelled))
		is.Equal(v.workflow("t1").Status, store.StatusCancelled)
		is.True(!v.workflow("t1").Deadline.IsZero()) // the deadline is recorded
	})
	t.Run("children inherit it unless detached", func(t *testing.T) {
		is := is.New(t)
		// Long enough for the child's step to start on a loaded machine:
		// the step reports the deadline it sees.
		h, err := parent.Start(ctx, 0, durable.WithTimeout(time.Second), durable.WithID("tp"))
		is.NoErr(err)
		result := make(chan error, 1)
		go func() { _, err := h.Result(ctx); result <- err }()
		select {
		case ok := <-sawDeadline:
			is.True(ok) // the child's step has the deadline
			err = <-result
		case err = <-result:
			t.Fatal("the deadline passed before the child's step started")
		}
		is.True(errors.Is(err, durable.ErrWorkflowCancelled))
		is.Equal(v.workflow("tp-2").Status, store.StatusCancelled)       // the child too
		is.Equal(v.workflow("tp-2").Deadline, v.workflow("tp").Deadline) // with its parent's deadline
		is.Equal(v.workflow("det").Status, store.StatusPending)          // the detached one runs on
		close(release)
		released = true
		hd, err := durable.Retrieve[int](ctx, e, "det")
		is.NoErr(err)
		got, err := hd.Result(ctx)
		is.NoErr(err)
		is.Equal(got, 7)
	})
	t.Run("negative timeout", func(t *testing.T) {
		is := is.New(t)
		_, err := child.Start(ctx, 0, durable.WithTimeout(-time.Second), durable.WithID("neg"))
		is.True(errors.Is(err, durable.ErrInvalidTimeout))
		_, err = v.open().GetWorkflow(ctx, "neg")
		is.True(errors.Is(err, store.ErrNotFound)) // nothing recorded
	})
}

func TestCancel(t *testing.T) {
	v := setup(t)
	ctx := context.Background()
	e := v.engine()
	inStep := make(chan struct{}, 10)
	stepErr := make(chan error, 10)
	var calls counter
	blocks := func(ctx context.Context, _ int) (int, error) {
		v, err := durable.Step(ctx, "block", func(ctx context.Context) (int, error) {
			inStep <- struct{}{}
			<-ctx.Done()
			stepErr <- ctx.Err()
			return 0, ctx.Err()
		})
		calls.inc("after-step")
		return v, err
	}
	child := register(t, e, "child", blocks)
	parent := register(t, e, "parent", func(ctx context.Context, _ int) (int, error) {
		h, err := child.Start(ctx, 0)
		if err != nil {
			return 0, err
		}
		return h.Result(ctx)
	})
	stubborn := register(t, e, "stubborn", func(ctx context.Context, _ int) (int, error) {
		inStep <- struct{}{}
		<-ctx.Done()
		return 42, nil // ignores the cancellation and returns a result
	})
	launch(t, e)

	t.Run("reaches the running step and the children", func(t *testing.T) {
		is := is.New(t)
		h, err := parent.Start(ctx, 0, durable.WithID("cp"))
		is.NoErr(err)
		<-inStep // the child is inside its step
		is.NoErr(e.Cancel(ctx, "cp"))
		is.True(errors.Is(<-stepErr, context.Canceled)) // the step's context was cancelled
		_, err = h.Result(ctx)
		is.True(errors.Is(err, durable.ErrWorkflowCancelled)) // the waiter is told
		hc, err := durable.Retrieve[int](ctx, e, "cp-1")
		is.NoErr(err)
		_, err = hc.Result(ctx)
		is.True(errors.Is(err, durable.ErrWorkflowCancelled))
		is.Equal(v.workflow("cp-1").Status, store.StatusCancelled) // the child is cancelled with it
		is.Equal(len(v.steps("cp-1")), 0)                          // the interrupted step is not recorded
	})
	t.Run("a late result does not overwrite CANCELLED", func(t *testing.T) {
		is := is.New(t)
		h, err := stubborn.Start(ctx, 0, durable.WithID("st"))
		is.NoErr(err)
		<-inStep
		is.NoErr(e.Cancel(ctx, "st"))
		_, err = h.Result(ctx)
		is.True(errors.Is(err, durable.ErrWorkflowCancelled))
		is.Equal(v.workflow("st").Status, store.StatusCancelled)
	})
	t.Run("a finished or missing workflow", func(t *testing.T) {
		is := is.New(t)
		_, err := stubborn.Start(ctx, 0, durable.WithID("fin"))
		is.NoErr(err)
		<-inStep
		is.True(errors.Is(e.Cancel(ctx, "nope"), durable.ErrWorkflowNotFound))
		is.NoErr(e.Cancel(ctx, "fin"))
		is.NoErr(e.Cancel(ctx, "fin")) // twice is fine
	})
	t.Run("a suspended sleeper", func(t *testing.T) {
		is := is.New(t)
		var c counter
		e2 := v.engine(func(c *durable.Config) { c.ExecutorID = "sleepy" })
		nap := register(t, e2, "nap", napper(&c))
		launch(t, e2)
		h, err := nap.Start(ctx, time.Hour, durable.WithID("zz"))
		is.NoErr(err)
		for len(v.steps("zz")) < 2 {
			runtime.Gosched()
		}
		is.NoErr(e2.Cancel(ctx, "zz"))
		_, err = h.Result(ctx)
		is.True(errors.Is(err, durable.ErrWorkflowCancelled))
	})
}
