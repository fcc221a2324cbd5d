package durable_test

import (
	"context"
	"errors"
	"fmt"
	"sync"
	"sync/atomic"
	"testing"

	"github.com/matryer/is"

	"github.com/dboslite/dboslite/durable"
	"github.com/dboslite/dboslite/store"
)

// sumSteps is a workflow of three steps that adds 1, 2 and 3 to its input.
func sumSteps(calls *counter) func(context.Context, int) (int, error) {
	return func(ctx context.Context, n int) (int, error) {
		for i := 1; i <= 3; i++ {
			name := fmt.Sprintf("add-%d", i)
			v, err := durable.Step(ctx, name, func(ctx context.Context) (int, error) {
				calls.inc(name)
				return i, nil
			})
			if err != nil {
				return 0, err
			}
			n += v
		}
		return n, nil
	}
}

func TestRunRecordsEveryStep(t *testing.T) {
	is := is.New(t)
	v := setup(t)
	e := v.engine()
	var calls counter
	wf := register(t, e, "sum", sumSteps(&calls))
	launch(t, e)

	h, err := wf.Start(context.Background(), 10, durable.WithID("sum-1"))
	is.NoErr(err)
	is.Equal(h.ID(), "sum-1")
	got, err := h.Result(context.Background())
	is.NoErr(err)
	is.Equal(got, 16) // 10+1+2+3

	st, err := h.Status(context.Background())
	is.NoErr(err)
	is.Equal(st.Status, durable.StatusSuccess)         // finished
	is.Equal(string(v.workflow("sum-1").Output), "16") // output recorded as JSON
	is.Equal(st.Name, "sum")
	is.Equal(st.ExecutorID, "local")      // default executor
	is.Equal(st.ApplicationVersion, "v1") // stable default version
	is.True(!st.CompletedAt.IsZero())     // completion time recorded

	steps := v.steps("sum-1")
	is.Equal(len(steps), 3) // one record per step
	for i, s := range steps {
		is.Equal(s.StepID, i+1)                      // numbered from 1 in call order
		is.Equal(s.Name, fmt.Sprintf("add-%d", i+1)) // recorded under its name
		is.Equal(string(s.Output), fmt.Sprint(i+1))  // with its output
	}
}

func TestDefaultIDsAreULIDs(t *testing.T) {
	is := is.New(t)
	e := setup(t).engine()
	var calls counter
	wf := register(t, e, "sum", sumSteps(&calls))
	launch(t, e)
	h1, err := wf.Start(context.Background(), 1)
	is.NoErr(err)
	h2, err := wf.Start(context.Background(), 1)
	is.NoErr(err)
	is.Equal(len(h1.ID()), 26)  // a ULID
	is.True(h1.ID() != h2.ID()) // each start gets its own
}

func TestStartingAnExistingIDNeverRunsItTwice(t *testing.T) {
	is := is.New(t)
	e := setup(t).engine()
	var runs atomic.Int64
	wf := register(t, e, "once", func(ctx context.Context, n int) (int, error) {
		runs.Add(1)
		return durable.Step(ctx, "double", func(ctx context.Context) (int, error) { return 2 * n, nil })
	})
	launch(t, e)

	got, err := wf.Run(context.Background(), 21, durable.WithID("same"))
	is.NoErr(err)
	is.Equal(got, 42)
	again, err := wf.Run(context.Background(), 99, durable.WithID("same")) // a different input is ignored
	is.NoErr(err)
	is.Equal(again, 42)             // the recorded result
	is.Equal(runs.Load(), int64(1)) // ran once

	// 16 goroutines start one new ID at the same instant.
	var wg sync.WaitGroup
	start := make(chan struct{})
	results := make([]int, 16)
	errs := make([]error, 16)
	for i := range 16 {
		wg.Add(1)
		go func() {
			defer wg.Done()
			<-start
			results[i], errs[i] = wf.Run(context.Background(), 5, durable.WithID("race"))
		}()
	}
	close(start)
	wg.Wait()
	for i := range 16 {
		is.NoErr(errs[i])
		is.Equal(results[i], 10) // every caller gets the one result
	}
	is.Equal(runs.Load(), int64(2)) // "race" ran exactly once
}

func TestRetrieveUnknownWorkflow(t *testing.T) {
	is := is.New(t)
	e := setup(t).engine()
	launch(t, e)
	_, err := durable.Retrieve[int](context.Background(), e, "nope")
	is.True(errors.Is(err, durable.ErrWorkflowNotFound)) // typed error
}

func TestPanicsAreRecordedAsErrors(t *testing.T) {
	is := is.New(t)
	v := setup(t)
	e := v.engine()
	wfPanic := register(t, e, "panics", func(ctx context.Context, _ int) (int, error) { panic("workflow exploded") })
	stepPanic := register(t, e, "step-panics", func(ctx context.Context, _ int) (int, error) {
		return durable.Step(ctx, "bad", func(ctx context.Context) (int, error) {
			var m map[string]int
			m["x"] = 1 // nil map write
			return 0, nil
		})
	})
	launch(t, e)

	_, err := wfPanic.Run(context.Background(), 1, durable.WithID("p1"))
	var pe *durable.PanicError
	is.True(errors.As(err, &pe))                         // a typed panic error
	is.Equal(pe.Value, "workflow exploded")              // with the panic value
	is.Equal(v.workflow("p1").Status, store.StatusError) // recorded as the workflow's error

	_, err = stepPanic.Run(context.Background(), 1, durable.WithID("p2"))
	is.True(errors.As(err, &pe)) // the step's panic becomes its error
	steps := v.steps("p2")
	is.Equal(len(steps), 1)
	is.True(steps[0].Error != nil) // and is recorded as the step's error
	is.Equal(v.workflow("p2").Status, store.StatusError)
}
