package durable_test

import (
	"context"
	"errors"
	"testing"

	"github.com/matryer/is"

	"github.com/dboslite/dboslite/durable"
	"github.com/dboslite/dboslite/store"
)

// The releases of an "order" workflow whose charge step changes:
// release 1 charges in dollars, release 2 patches in cents, release 3
// deprecates the patch, release 4 drops it. Each step counts its real
// runs in calls under "<input>/<step>" and returns its name.

func orderStep(ctx context.Context, calls *counter, in, name string) (string, error) {
	return durable.Step(ctx, name, func(ctx context.Context) (string, error) {
		calls.inc(in + "/" + name)
		return name, nil
	})
}

// order runs its steps in turn; charge chooses the charge step.
func order(calls *counter, charge func(ctx context.Context) (string, error)) func(context.Context, string) (string, error) {
	return func(ctx context.Context, in string) (string, error) {
		out := in
		for _, name := range []string{"fetch", "", "notify"} {
			var s string
			var err error
			if name == "" {
				if s, err = charge(ctx); err != nil {
					return "", err
				}
				name = s
			}
			if s, err = orderStep(ctx, calls, in, name); err != nil {
				return "", err
			}
			out += "+" + s
		}
		return out, nil
	}
}

func release1(calls *counter) func(context.Context, string) (string, error) {
	return order(calls, func(ctx context.Context) (string, error) { return "dollars", nil })
}

func release2(calls *counter) func(context.Context, string) (string, error) {
	return order(calls, func(ctx context.Context) (string, error) {
		cents, err := durable.Patch(ctx, "cents")
		if err != nil || !cents {
			return "dollars", err
		}
		return "cents", nil
	})
}

func release3(calls *counter) func(context.Context, string) (string, error) {
	return order(calls, func(ctx context.Context) (string, error) { return "cents", durable.DeprecatePatch(ctx, "cents") })
}

func release4(calls *counter) func(context.Context, string) (string, error) {
	return order(calls, func(ctx context.Context) (string, error) { return "cents", nil })
}

// stepNames lists the names of a workflow's steps, internal ones marked
// with a star.
func stepNames(t *testing.T, e *durable.Engine, id string) []string {
	t.Helper()
	steps, err := e.Steps(context.Background(), id)
	if err != nil {
		t.Fatalf("steps of %s: %v", id, err)
	}
	var names []string
	for _, s := range steps {
		if s.Internal {
			names = append(names, "*"+s.Name)
		} else {
			names = append(names, s.Name)
		}
	}
	return names
}

func result(t *testing.T, e *durable.Engine, id string) string {
	t.Helper()
	h, err := durable.Retrieve[string](context.Background(), e, id)
	if err != nil {
		t.Fatalf("retrieve %s: %v", id, err)
	}
	out, err := h.Result(context.Background())
	if err != nil {
		t.Fatalf("result of %s: %v", id, err)
	}
	return out
}

func TestPatchKeepsWorkflowsInFlightOnTheOldPath(t *testing.T) {
	is := is.New(t)
	v := setup(t)
	var calls counter
	ctx := context.Background()

	// Release 1 runs "old", which dies after charging in dollars.
	e1 := v.crashingAt("notify")
	wf1 := register(t, e1, "order", release1(&calls))
	launch(t, e1)
	err := v.untilCrash(e1, func() error { _, err := wf1.Run(ctx, "old", durable.WithID("old")); return err })
	is.True(errors.Is(err, durable.ErrShutdown)) // interrupted
	is.Equal(len(v.steps("old")), 2)             // fetch, dollars
	// And "early", which died before its charge.
	v.orphan("early", "order", `"early"`)
	is.NoErr(v.open().RecordStep(ctx, store.StepParams{Step: store.Step{WorkflowID: "early", StepID: 1, Name: "fetch",
		Output: []byte(`"fetch"`)}}))

	// Release 2 recovers them at Launch, and starts a new one.
	e := v.engine()
	wf := register(t, e, "order", release2(&calls))
	launch(t, e)
	is.Equal(result(t, e, "old"), "old+fetch+dollars+notify")                // past the change: the old path
	is.Equal(result(t, e, "early"), "early+fetch+cents+notify")              // not yet there: the new path
	is.Equal(stepNames(t, e, "old"), []string{"fetch", "dollars", "notify"}) // no marker in the old path
	is.Equal(stepNames(t, e, "early"), []string{"fetch", "*durable.patch-cents", "cents", "notify"})
	got, err := wf.Run(ctx, "new", durable.WithID("new"))
	is.NoErr(err)
	is.Equal(got, "new+fetch+cents+notify") // started after the change: the new path
	is.Equal(stepNames(t, e, "new"), []string{"fetch", "*durable.patch-cents", "cents", "notify"})

	is.Equal(calls.get("old/fetch"), 1)   // replayed, not run again
	is.Equal(calls.get("old/dollars"), 1) // replayed, not run again
	is.Equal(calls.get("old/cents"), 0)   // the new path never ran for it
	is.Equal(calls.get("old/notify"), 2)  // its unrecorded run, and the recovery
	is.Equal(calls.get("early/dollars"), 0)
	is.Equal(calls.get("early/cents"), 1)
	is.Equal(calls.get("new/dollars"), 0)
	is.Equal(calls.get("new/cents"), 1)
}

func TestPatchMarkerReplaysTheNewPath(t *testing.T) {
	is := is.New(t)
	v := setup(t)
	var calls counter
	ctx := context.Background()

	e1 := v.crashingAt("notify")
	wf := register(t, e1, "order", release2(&calls))
	launch(t, e1)
	err := v.untilCrash(e1, func() error { _, err := wf.Run(ctx, "w", durable.WithID("w")); return err })
	is.True(errors.Is(err, durable.ErrShutdown)) // interrupted after the new charge
	is.Equal(len(v.steps("w")), 3)               // fetch, marker, cents

	e2 := v.engine()
	register(t, e2, "order", release2(&calls))
	launch(t, e2)
	is.Equal(result(t, e2, "w"), "w+fetch+cents+notify") // the marker keeps it on the new path
	is.Equal(calls.get("w/cents"), 1)                    // replayed, not run again
	is.Equal(calls.get("w/dollars"), 0)
	is.Equal(stepNames(t, e2, "w"), []string{"fetch", "*durable.patch-cents", "cents", "notify"})
}

func TestDeprecatePatchThenDropIt(t *testing.T) {
	is := is.New(t)
	v := setup(t)
	var calls counter
	ctx := context.Background()

	// Release 2 leaves a workflow with the marker in flight.
	e1 := v.crashingAt("notify")
	wf := register(t, e1, "order", release2(&calls))
	launch(t, e1)
	err := v.untilCrash(e1, func() error { _, err := wf.Run(ctx, "patched", durable.WithID("patched")); return err })
	is.True(errors.Is(err, durable.ErrShutdown))

	// Release 3 replays it past its marker, and records none for new ones.
	e3 := v.engine()
	wf3 := register(t, e3, "order", release3(&calls))
	launch(t, e3)
	is.Equal(result(t, e3, "patched"), "patched+fetch+cents+notify")
	is.Equal(calls.get("patched/cents"), 1) // replayed after the marker
	got, err := wf3.Run(ctx, "fresh", durable.WithID("fresh"))
	is.NoErr(err)
	is.Equal(got, "fresh+fetch+cents+notify")
	is.Equal(stepNames(t, e3, "fresh"), []string{"fetch", "cents", "notify"}) // no marker
	is.NoErr(e3.Shutdown(ctx))

	// Release 4 has no patch call at all and replays release 3's
	// workflows: a fork from the last step replays fetch and cents.
	e4 := v.engine()
	register(t, e4, "order", release4(&calls))
	launch(t, e4)
	id, err := e4.Fork(ctx, "fresh", 3, durable.WithForkID("fresh-again"))
	is.NoErr(err)
	is.Equal(id, "fresh-again")
	is.Equal(result(t, e4, id), "fresh+fetch+cents+notify")
	is.Equal(calls.get("fresh/cents"), 1)  // replayed in the fork
	is.Equal(calls.get("fresh/notify"), 2) // run again from the fork's step
}

// A step started with Go may be recorded while an earlier one is not: a
// workflow that recorded anything at or after Patch's step number went
// past it under the old code.
func TestPatchSeesAWorkflowPastItThroughALaterStep(t *testing.T) {
	is := is.New(t)
	v := setup(t)
	var calls counter
	ctx := context.Background()
	// Left by a process running the old code (a, then b and c together,
	// then d), which died after a and c were recorded.
	v.orphan("w", "fan", `"w"`)
	s := v.open()
	for _, st := range []store.Step{{StepID: 1, Name: "a"}, {StepID: 3, Name: "c"}} {
		st.WorkflowID, st.Output = "w", []byte(`"`+st.Name+`"`)
		is.NoErr(s.RecordStep(ctx, store.StepParams{Step: st}))
	}

	e := v.engine()
	register(t, e, "fan", func(ctx context.Context, in string) (string, error) {
		out, err := orderStep(ctx, &calls, in, "a")
		if err != nil {
			return "", err
		}
		patched, err := durable.Patch(ctx, "one-step")
		if err != nil {
			return "", err
		}
		if patched {
			s, err := orderStep(ctx, &calls, in, "bc")
			return out + "+" + s, err
		}
		b := durable.Go(ctx, "b", func(ctx context.Context) (string, error) { calls.inc(in + "/b"); return "b", nil })
		c := durable.Go(ctx, "c", func(ctx context.Context) (string, error) { calls.inc(in + "/c"); return "c", nil })
		for _, f := range []*durable.Future[string]{b, c} {
			s, err := f.Wait(ctx)
			if err != nil {
				return "", err
			}
			out += "+" + s
		}
		return out, nil
	})
	launch(t, e)
	is.Equal(result(t, e, "w"), "a+b+c") // the old path, replayed where recorded
	is.Equal(calls.get("w/a"), 0)        // recorded
	is.Equal(calls.get("w/b"), 1)        // not recorded: run
	is.Equal(calls.get("w/c"), 0)        // recorded
	is.Equal(calls.get("w/bc"), 0)
}

func TestPatchBadInput(t *testing.T) {
	is := is.New(t)
	v := setup(t)
	ctx := context.Background()

	_, err := durable.Patch(ctx, "p")
	is.True(errors.Is(err, durable.ErrNotInWorkflow)) // Patch outside a workflow
	is.True(errors.Is(durable.DeprecatePatch(ctx, "p"), durable.ErrNotInWorkflow))

	e := v.engine()
	wf := register(t, e, "bad", func(ctx context.Context, _ string) (map[string]bool, error) {
		got := map[string]bool{}
		if _, err := durable.Step(ctx, "s", func(ctx context.Context) (int, error) {
			_, err := durable.Patch(ctx, "p")
			got["Patch in a step"] = errors.Is(err, durable.ErrInStep)
			got["DeprecatePatch in a step"] = errors.Is(durable.DeprecatePatch(ctx, "p"), durable.ErrInStep)
			return 0, nil
		}); err != nil {
			return nil, err
		}
		_, err := durable.Patch(ctx, "")
		got["Patch with no name"] = errors.Is(err, durable.ErrInvalidPatch)
		got["DeprecatePatch with no name"] = errors.Is(durable.DeprecatePatch(ctx, ""), durable.ErrInvalidPatch)
		done := make(chan error)
		go func() { _, err := durable.Patch(ctx, "p"); done <- err }()
		got["Patch on another goroutine"] = errors.Is(<-done, durable.ErrNotWorkflowGoroutine)
		if _, err := durable.Step(ctx, "after", func(ctx context.Context) (int, error) { return 0, nil }); err != nil {
			return nil, err
		}
		return got, nil
	})
	launch(t, e)
	got, err := wf.Run(ctx, "", durable.WithID("w"))
	is.NoErr(err)
	is.Equal(len(got), 5)
	for check, ok := range got {
		if !ok {
			t.Errorf("%s: wrong error", check)
		}
	}
	is.Equal(stepNames(t, e, "w"), []string{"s", "after"}) // nothing recorded, no step number taken
	steps := v.steps("w")
	is.Equal(steps[1].StepID, 2)
}
