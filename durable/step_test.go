package durable_test

import (
	"context"
	"errors"
	"fmt"
	"strings"
	"sync/atomic"
	"testing"
	"time"

	"github.com/matryer/is"

	"github.com/dboslite/dboslite/durable"
	"github.com/dboslite/dboslite/store"
)

var errFlaky = errors.New("flaky")

func TestStepRetries(t *testing.T) {
	v := setup(t)
	e := v.engine()
	var attempts atomic.Int64
	policy := durable.RetryPolicy{MaxAttempts: 3, Interval: time.Millisecond, BackoffRate: 2, MaxInterval: 5 * time.Millisecond}
	failTimes := func(n int64) func(context.Context, int) (int, error) {
		return func(ctx context.Context, _ int) (int, error) {
			return durable.Step(ctx, "flaky", func(ctx context.Context) (int, error) {
				if attempts.Add(1) <= n {
					return 0, errFlaky
				}
				return 7, nil
			}, durable.WithRetries(policy))
		}
	}
	recovers := register(t, e, "recovers", failTimes(2))
	exhausts := register(t, e, "exhausts", failTimes(1000))
	stopping := register(t, e, "stops", func(ctx context.Context, _ int) (int, error) {
		p := policy
		p.ShouldRetry = func(err error) bool { return !errors.Is(err, errFlaky) }
		return durable.Step(ctx, "no-retry", func(ctx context.Context) (int, error) {
			attempts.Add(1)
			return 0, errFlaky
		}, durable.WithRetries(p))
	})
	if err := durable.RegisterError(e, "flaky", errFlaky); err != nil {
		t.Fatal(err)
	}
	launch(t, e)

	t.Run("succeeds on the third attempt", func(t *testing.T) {
		is := is.New(t)
		attempts.Store(0)
		got, err := recovers.Run(context.Background(), 0, durable.WithID("r1"))
		is.NoErr(err)
		is.Equal(got, 7)
		is.Equal(attempts.Load(), int64(3)) // two failures, one success
		is.Equal(len(v.steps("r1")), 1)     // recorded once
	})
	t.Run("exhausted attempts give a StepError wrapping each", func(t *testing.T) {
		is := is.New(t)
		attempts.Store(0)
		_, err := exhausts.Run(context.Background(), 0, durable.WithID("r2"))
		var se *durable.StepError
		is.True(errors.As(err, &se))        // typed
		is.Equal(len(se.Attempts), 3)       // one error per attempt
		is.Equal(se.StepName, "flaky")      // names the step
		is.Equal(se.StepID, 1)              // and its number
		is.True(errors.Is(err, errFlaky))   // wraps the attempts' errors (errFlaky is registered)
		is.Equal(attempts.Load(), int64(3)) // MaxAttempts counts the first
		steps := v.steps("r2")
		is.Equal(len(steps), 1)
		is.True(steps[0].Error != nil) // the final error is recorded
	})
	t.Run("ShouldRetry false stops at once", func(t *testing.T) {
		is := is.New(t)
		attempts.Store(0)
		_, err := stopping.Run(context.Background(), 0, durable.WithID("r3"))
		is.True(errors.Is(err, errFlaky)) // returned as it is
		var se *durable.StepError
		is.True(!errors.As(err, &se))       // not as a StepError
		is.Equal(attempts.Load(), int64(1)) // no retry
	})
}

func TestStepOutsideWorkflowIsAPlainCall(t *testing.T) {
	is := is.New(t)
	got, err := durable.Step(context.Background(), "plain", func(ctx context.Context) (string, error) { return "ok", nil })
	is.NoErr(err)
	is.Equal(got, "ok")
}

func TestNestedStepsRecordOnlyTheOuter(t *testing.T) {
	is := is.New(t)
	v := setup(t)
	e := v.engine()
	wf := register(t, e, "nested", func(ctx context.Context, _ int) (int, error) {
		return durable.Step(ctx, "outer", func(ctx context.Context) (int, error) {
			return durable.Step(ctx, "inner", func(ctx context.Context) (int, error) { return 3, nil })
		})
	})
	launch(t, e)
	got, err := wf.Run(context.Background(), 0, durable.WithID("n1"))
	is.NoErr(err)
	is.Equal(got, 3)
	steps := v.steps("n1")
	is.Equal(len(steps), 1)          // only the outer step
	is.Equal(steps[0].Name, "outer") // is recorded
}

func TestAStepCutShortByTheCallersContextIsRecorded(t *testing.T) {
	is := is.New(t)
	v := setup(t)
	var calls counter
	var obs seen
	wf := func(e *durable.Engine) *durable.Workflow[int, string] {
		return register(t, e, "hurried", func(ctx context.Context, _ int) (string, error) {
			obs.newRun()
			short, cancel := context.WithTimeout(ctx, time.Millisecond)
			defer cancel()
			_, err := durable.Step(short, "slow", func(ctx context.Context) (int, error) {
				calls.inc("slow")
				<-ctx.Done() // the caller's own deadline, not the workflow's
				return 0, ctx.Err()
			})
			branch := "fast"
			if errors.Is(err, context.DeadlineExceeded) {
				branch = "gave-up"
			}
			obs.add("%s", branch)
			return durable.Step(ctx, "after-"+branch, func(ctx context.Context) (string, error) { return branch, nil })
		})
	}
	got, err := crashAndRecover(t, v, "after-gave-up", "h", 0, wf)
	is.NoErr(err)
	is.Equal(got, "gave-up")
	is.Equal(obs.get()[1], obs.get()[0]) // the replay takes the same branch
	is.Equal(calls.get("slow"), 1)       // the recorded step did not run again
	steps := v.steps("h")
	is.Equal(steps[0].Name, "slow")
	is.True(len(steps[0].Error) > 0) // its error is recorded
	is.Equal(steps[1].StepID, 2)     // and its number was not lost
}

func TestWithStepTimeoutRecordsTheExpiry(t *testing.T) {
	is := is.New(t)
	v := setup(t)
	e := v.engine()
	var attempts atomic.Int64
	wf := register(t, e, "timed", func(ctx context.Context, _ int) (string, error) {
		_, err := durable.Step(ctx, "slow", func(ctx context.Context) (int, error) {
			attempts.Add(1)
			<-ctx.Done()
			return 0, ctx.Err()
		}, durable.WithStepTimeout(5*time.Millisecond), durable.WithRetries(durable.RetryPolicy{MaxAttempts: 2, Interval: time.Millisecond}))
		var se *durable.StepError
		return fmt.Sprint(errors.Is(err, durable.ErrStepTimeout), errors.As(err, &se) && len(se.Attempts) == 2), nil
	})
	launch(t, e)
	got, err := wf.Run(context.Background(), 0, durable.WithID("t"))
	is.NoErr(err)
	is.Equal(got, "true true")          // each attempt timed out, and was retried
	is.Equal(attempts.Load(), int64(2)) // twice
	is.Equal(v.workflow("t").Status, store.StatusSuccess)
	steps := v.steps("t")
	is.Equal(len(steps), 1)
	is.True(strings.Contains(string(steps[0].Error), "durable.StepTimeout")) // recorded as a step timeout
}
