package durable_test

import (
	"context"
	"errors"
	"testing"

	"github.com/matryer/is"

	"github.com/dboslite/dboslite/durable"
	"github.com/dboslite/dboslite/store"
)

func TestChildWorkflows(t *testing.T) {
	v := setup(t)
	var calls counter
	var child *durable.Workflow[int, int]
	children := func(e *durable.Engine, crashAfterStart bool) *durable.Workflow[int, int] {
		child = register(t, e, "child", func(ctx context.Context, n int) (int, error) {
			calls.inc("child")
			return durable.Step(ctx, "square", func(ctx context.Context) (int, error) { return n * n, nil })
		})
		return register(t, e, "parent", func(ctx context.Context, n int) (int, error) {
			calls.inc("parent")
			h, err := child.Start(ctx, n)
			if err != nil {
				return 0, err
			}
			named, err := child.Start(ctx, n+1, durable.WithID(durable.WorkflowID(ctx)+"-named"))
			if err != nil {
				return 0, err
			}
			a, err := h.Result(ctx)
			if err != nil {
				return 0, err
			}
			b, err := named.Result(ctx)
			return a + b, err
		})
	}

	t.Run("ids, steps and results", func(t *testing.T) {
		is := is.New(t)
		e := v.engine()
		parent := children(e, false)
		launch(t, e)
		got, err := parent.Run(context.Background(), 3, durable.WithID("p"))
		is.NoErr(err)
		is.Equal(got, 9+16)

		steps := v.steps("p")
		is.Equal(len(steps), 4)
		is.Equal(steps[0].Name, "child")             // the start is a step named for the child
		is.Equal(steps[0].ChildID, "p-1")            // deterministic child ID
		is.Equal(steps[1].ChildID, "p-named")        // or the one given
		is.Equal(steps[2].Name, "durable.getResult") // awaiting is a step too
		is.Equal(string(steps[2].Output), "9")
		is.Equal(v.workflow("p-1").ParentID, "p") // the child knows its parent
		is.Equal(v.workflow("p-1").Status, store.StatusSuccess)
		is.NoErr(e.Shutdown(context.Background()))
	})

	t.Run("replay reuses the recorded child", func(t *testing.T) {
		is := is.New(t)
		before := calls.get("child")
		// Crash after the parent is created (1 write), the first child is
		// created (2) and its start recorded (3): the child's own steps
		// fail, so it stays PENDING too.
		e1 := v.crashing(3)
		p1 := children(e1, true)
		launch(t, e1)
		err := v.untilCrash(e1, func() error { _, err := p1.Run(context.Background(), 4, durable.WithID("q")); return err })
		is.True(errors.Is(err, durable.ErrShutdown)) // interrupted by the crash, not failed
		is.Equal(len(v.steps("q")), 1)               // only the first start was recorded
		is.Equal(v.workflow("q-1").Status, store.StatusPending)

		e2 := v.engine()
		p2 := children(e2, false)
		launch(t, e2)
		h, err := p2.Retrieve(context.Background(), "q")
		is.NoErr(err)
		got, err := h.Result(context.Background())
		is.NoErr(err)
		is.Equal(got, 16+25)
		list, err := e2.Store().ListWorkflows(context.Background(), store.ListParams{IDPrefix: "q-1"})
		is.NoErr(err)
		is.Equal(len(list), 1)                     // no second child was made for step 1
		is.Equal(calls.get("child")-before, 1+1+1) // q-1 in both processes, q-named once
		is.Equal(v.workflow("q-1").Status, store.StatusSuccess)
	})
}

func TestStartFromAStepIsAnError(t *testing.T) {
	is := is.New(t)
	e := setup(t).engine()
	var inner *durable.Workflow[int, int]
	inner = register(t, e, "inner", func(ctx context.Context, n int) (int, error) { return n, nil })
	outer := register(t, e, "outer", func(ctx context.Context, n int) (int, error) {
		return durable.Step(ctx, "starts", func(ctx context.Context) (int, error) {
			_, err := inner.Start(ctx, n)
			return 0, err
		})
	})
	launch(t, e)
	_, err := outer.Run(context.Background(), 1)
	is.True(errors.Is(err, durable.ErrInStep)) // typed, not a panic
}
