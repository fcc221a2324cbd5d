package durable_test

import (
	"context"
	"errors"
	"fmt"
	"sync"
	"testing"
	"time"

	"github.com/matryer/is"

	"github.com/dboslite/dboslite/durable"
)

func TestDurableOperationsRefuseOtherGoroutines(t *testing.T) {
	is := is.New(t)
	v := setup(t)
	e := v.engine()
	wf := register(t, e, "racy", func(ctx context.Context, _ int) (string, error) {
		var wg sync.WaitGroup
		errs := make([]error, 2)
		for i := range 2 {
			wg.Go(func() {
				_, errs[i] = durable.Step(ctx, "fetch", func(ctx context.Context) (int, error) { return i, nil })
			})
		}
		wg.Wait()
		return fmt.Sprint(errors.Is(errs[0], durable.ErrNotWorkflowGoroutine), errors.Is(errs[1], durable.ErrNotWorkflowGoroutine)), nil
	})
	launch(t, e)
	got, err := wf.Run(context.Background(), 0, durable.WithID("racy"))
	is.NoErr(err)
	is.Equal(got, "true true")        // both refused with a typed error
	is.Equal(len(v.steps("racy")), 0) // and nothing recorded: no number depends on scheduling
}

func TestGoFansOutInCallOrder(t *testing.T) {
	is := is.New(t)
	v := setup(t)
	var calls counter
	var obs seen
	fan := func(e *durable.Engine) *durable.Workflow[int, string] {
		return register(t, e, "fan", func(ctx context.Context, n int) (string, error) {
			obs.newRun()
			futures := make([]*durable.Future[int], n)
			for i := range n {
				futures[i] = durable.Go(ctx, "fetch", func(ctx context.Context) (int, error) {
					calls.inc(fmt.Sprint("fetch-", i))
					time.Sleep(time.Duration(n-i) * time.Millisecond) // finish in reverse order
					return i * i, nil
				})
			}
			sum := 0
			for i, f := range futures {
				v, err := f.Wait(ctx)
				if err != nil {
					return "", err
				}
				obs.add("%d=%d", i, v)
				sum += v
			}
			return durable.Step(ctx, "total", func(ctx context.Context) (string, error) { return fmt.Sprint(sum), nil })
		})
	}
	got, err := crashAndRecover(t, v, "total", "fan", 4, fan)
	is.NoErr(err)
	is.Equal(got, "14") // 0+1+4+9
	runs := obs.get()
	is.Equal(runs[0], []string{"0=0", "1=1", "2=4", "3=9"}) // each future its own result
	is.Equal(runs[1], runs[0])                              // and the same on the replay
	for i := range 4 {
		is.Equal(calls.get(fmt.Sprint("fetch-", i)), 1) // recorded once, not run again
	}
	steps := v.steps("fan")
	is.Equal(len(steps), 5)
	for i, s := range steps[:4] {
		is.Equal(s.StepID, i+1)                     // numbered in call order,
		is.Equal(string(s.Output), fmt.Sprint(i*i)) // whatever order they finished in
	}
}

func TestGoFromAnotherGoroutineFailsInWait(t *testing.T) {
	is := is.New(t)
	e := setup(t).engine()
	wf := register(t, e, "nested", func(ctx context.Context, _ int) (int, error) {
		out := make(chan error, 1)
		go func() {
			_, err := durable.Go(ctx, "x", func(ctx context.Context) (int, error) { return 1, nil }).Wait(ctx)
			out <- err
		}()
		if err := <-out; !errors.Is(err, durable.ErrNotWorkflowGoroutine) {
			return 0, fmt.Errorf("want ErrNotWorkflowGoroutine, got %v", err)
		}
		return 1, nil
	})
	launch(t, e)
	got, err := wf.Run(context.Background(), 0)
	is.NoErr(err)
	is.Equal(got, 1)
}
