package durable_test

import (
	"context"
	"os"
	"testing"
	"time"

	"github.com/matryer/is"

	"github.com/dboslite/dboslite/durable"
	"github.com/dboslite/dboslite/durabletest"
)

// kitOptions puts durabletest's databases on the backend under test.
func kitOptions() []durabletest.Option {
	if backend() == "postgres" {
		return []durabletest.Option{durabletest.WithPostgres(os.Getenv(postgresEnv))}
	}
	return nil
}

// TestCrashAtEveryOperation kills a workflow at each of its durable
// operations in turn — a step, a sleep, a send, a receive, an event, a
// stream write, the start of a child and the wait for it — and checks,
// with durabletest, that each recovered run ends as an uncrashed one and
// that no operation but the one the crash hit ran twice.
func TestCrashAtEveryOperation(t *testing.T) {
	is := is.New(t)
	setup := func(e *durable.Engine) (*durable.Workflow[string, string], error) {
		child, err := durable.Register(e, "child", func(ctx context.Context, in string) (string, error) {
			return durable.Step(ctx, "shout", func(context.Context) (string, error) { return in + "!", nil })
		})
		if err != nil {
			return nil, err
		}
		return durable.Register(e, "parent", func(ctx context.Context, in string) (string, error) {
			a, err := durable.Step(ctx, "first", func(context.Context) (string, error) { return in + "-a", nil })
			if err != nil {
				return "", err
			}
			if err := durable.Sleep(ctx, time.Millisecond); err != nil {
				return "", err
			}
			if err := durable.Send(ctx, durable.WorkflowID(ctx), "note", a); err != nil {
				return "", err
			}
			note, err := durable.Recv[string](ctx, "note", 10*time.Second)
			if err != nil {
				return "", err
			}
			if err := durable.SetEvent(ctx, "progress", note); err != nil {
				return "", err
			}
			if err := durable.WriteStream(ctx, "log", note); err != nil {
				return "", err
			}
			h, err := child.Start(ctx, note)
			if err != nil {
				return "", err
			}
			return h.Result(ctx)
		})
	}
	reports := durabletest.CrashEveryStep(t, setup, "x", kitOptions()...)
	defer func() { // runs on a failed assertion too
		if t.Failed() {
			for _, r := range reports {
				t.Logf("crash at %d: %+v", r.Crash, r.Steps)
			}
		}
	}()
	is.Equal(len(reports), 9) // one crash per operation (a Recv is two)
	for _, r := range reports {
		is.Equal(r.Output, "x-a!") // every crash run recovers to the output of an uncrashed one
		for _, s := range r.Repeated() {
			is.Equal(s.ID, r.Crash) // only the operation the crash hit ran again
		}
		if r.Crash == 1 {
			is.Equal(r.Repeated(), []durabletest.StepRuns{{ID: 1, Name: "first", Runs: 2}}) // a crashed step runs again
		}
	}
	_, err := durabletest.CrashAt(t, setup, "x", 10, kitOptions()...)
	is.Equal(err, error(&durabletest.CrashPointError{Step: 10, Steps: 9})) // past the last operation
}
